// Package inventorygen writes large, valid inventories for benchmarks and
// tests: many Proxmox nodes and guests, with load balancers, control
// planes and workers, sized to fit their networks.
package inventorygen

import (
	"fmt"
	"strings"
)

// Generate returns the YAML of a valid inventory with the given number of
// Proxmox nodes and guests. Three guests are load balancers and three are
// control planes; a tenth are LXC containers; the rest are workers. Guests
// are spread over the nodes round-robin and over /24 networks of 200 static
// addresses each.
func Generate(nodes, guests int) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("name: generated")
	w("proxmox:")
	w("  endpoint: https://pve.generated.example:8006/api2/json")
	w("  tls: {insecure: true}")
	w("  token_id: homelab@pve!bench")
	w("  token_secret: env:PVE_TOKEN")
	w("  storage: local-lvm")
	w("  nodes:")
	for n := range nodes {
		w("    - name: pve-%d", n+1)
	}
	w("  templates:")
	w("    vm:")
	for n := range nodes {
		w("      - {name: debian, vmid: %d, node: pve-%d}", 9000+n, n+1)
	}
	w("    lxc:")
	w("      - {name: debian-ct, volid: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst'}")
	w("router:")
	w("  address: router.generated.example:8729")
	w("  tls: {insecure: true}")
	w("  username: homelab")
	w("  password: env:ROUTER_PASSWORD")
	w("  domain: generated.example")
	nets := (guests + 199) / 200
	w("networks:")
	for n := range nets {
		w("  - name: net-%d", n+1)
		w("    vlan: %d", 100+n)
		w("    trunk_ports: [ether2, ether3]")
		w("    cidr: 10.%d.%d.0/24", 100+n/250, n%250)
		w("    gateway: 10.%d.%d.1", 100+n/250, n%250)
		w("    dhcp: {start: 10.%d.%d.230, end: 10.%d.%d.250}", 100+n/250, n%250, 100+n/250, n%250)
		w("    proxmox: {bridge: vmbr0}")
	}
	w("defaults:")
	w("  vm: {template: debian, cores: 2, memory: 2048, disk: 20}")
	w("  lxc: {template: debian-ct, cores: 1, memory: 512, disk: 8}")
	w("guests:")
	for i := range guests {
		kind, role := "vm", "worker"
		switch {
		case i < 3:
			role = "loadbalancer"
		case i < 6:
			role = "control-plane"
		case i%10 == 0:
			kind, role = "lxc", "vault"
		}
		net := i / 200
		w("  - {name: g%d, kind: %s, node: pve-%d, vmid: %d, network: net-%d, ip: 10.%d.%d.%d, roles: [%s]}",
			i+1, kind, i%nodes+1, 10000+i, net+1, 100+net/250, net%250, 10+i%200, role)
	}
	w("loadbalancer:")
	w("  vrrp_password: env:VRRP_PASSWORD")
	w("  vips:")
	w("    - {name: api, address: 10.100.0.5, network: net-1, router_id: 1}")
	w("  frontends:")
	w("    - {name: kube-apiserver, vip: api, port: 6443, mode: tcp, backend: {role: control-plane, port: 6443}, check: {kind: https, path: /readyz}}")
	w("    - {name: ingress, vip: api, port: 443, mode: tcp, backend: {role: worker, port: 30443}}")
	w("kubernetes:")
	w("  version: 1.35.4")
	w("  endpoint: k8s-api.generated.example")
	w("  pod_subnet: 172.20.0.0/16")
	w("  service_subnet: 172.21.0.0/16")
	w("  cni: {name: calico, version: v3.28.2}")
	return []byte(b.String())
}
