package inventory

import (
	"errors"
	"strings"
	"testing"
)

// Each file under testdata/invalid is the valid testdata/base.yaml wrong
// in one way; the table pins every diagnostic, position included.
func TestValidationRules(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"cidr-not-network", []string{
			`testdata/invalid/cidr-not-network.yaml:30:11: networks[0].cidr: 10.0.10.5/24 is not a network address; did you mean 10.0.10.0/24?`,
		}},
		{"duplicate-ip", []string{
			`testdata/invalid/duplicate-ip.yaml:41:75: guests[3].ip: 10.0.10.21 is already used by guests[2].ip on line 40`,
		}},
		{"duplicate-mac", []string{
			`testdata/invalid/duplicate-mac.yaml:39:88: guests[1].mac: MAC "02:00:00:00:00:01" is already used by guests[0].mac on line 38`,
		}},
		{"duplicate-name", []string{
			`testdata/invalid/duplicate-name.yaml:39:13: guests[1].name: guest name "lb-1" is already used by guests[0].name on line 38`,
		}},
		{"duplicate-vmid", []string{
			`testdata/invalid/duplicate-vmid.yaml:41:52: guests[3].vmid: vmid "111" is already used by guests[2].vmid on line 40`,
		}},
		{"endpoint-not-dns", []string{
			`testdata/invalid/endpoint-not-dns.yaml:51:13: kubernetes.endpoint: "https://k8s-api.test.example:6443" is not a DNS name: the endpoint must be a name that can move from master1 to the VIP`,
		}},
		{"frontend-unknown-vip", []string{
			`testdata/invalid/frontend-unknown-vip.yaml:48:36: loadbalancer.frontends[0].vip: unknown VIP "apl"`,
		}},
		{"ip-in-dhcp-pool", []string{
			`testdata/invalid/ip-in-dhcp-pool.yaml:41:75: guests[3].ip: 10.0.10.150 is inside the DHCP pool 10.0.10.100-10.0.10.199 of network "lab": static addresses must lie outside it`,
		}},
		{"ip-outside-cidr", []string{
			`testdata/invalid/ip-outside-cidr.yaml:41:75: guests[3].ip: 10.0.20.31 is outside network "lab" (10.0.10.0/24)`,
		}},
		{"lxc-with-vm-template", []string{
			`testdata/invalid/lxc-with-vm-template.yaml:42:43: guests[4].template: "debian" is a VM template; an lxc needs an LXC template`,
		}},
		{"lxc-cloud-init-upgrade", []string{
			`testdata/invalid/lxc-cloud-init-upgrade.yaml:42:53: guests[4].cloud_init_upgrade: a container does not run cloud-init: cloud_init_upgrade is for VMs`,
		}},
		{"no-control-plane", []string{
			`testdata/invalid/no-control-plane.yaml:48:81: loadbalancer.frontends[0].backend.role: no guest has the role "control-plane"`,
			`testdata/invalid/no-control-plane.yaml:50:3: kubernetes.control_plane_role: no guest has the role "control-plane": the cluster needs at least one control plane`,
		}},
		{"overlapping-cidrs", []string{
			`testdata/invalid/overlapping-cidrs.yaml:37:11: networks[1].cidr: 10.0.0.0/16 overlaps 10.0.10.0/24 of network "lab" (networks[0].cidr on line 30)`,
		}},
		{"pod-subnet-overlap", []string{
			`testdata/invalid/pod-subnet-overlap.yaml:53:15: kubernetes.pod_subnet: 10.0.0.0/16 overlaps network "lab" (10.0.10.0/24, networks[0].cidr on line 30)`,
		}},
		{"secret-literal", []string{
			`testdata/invalid/secret-literal.yaml:8:17: proxmox.token_secret: secrets are references (env:NAME or file:PATH), never values`,
		}},
		{"template-not-on-node", []string{
			`testdata/invalid/template-not-on-node.yaml:38:5: guests[1].template: template "debian" has no copy on node pve-2 and none on shared storage: add one (name, vmid, node) under proxmox.templates.vm`,
			`testdata/invalid/template-not-on-node.yaml:40:5: guests[3].template: template "debian" has no copy on node pve-2 and none on shared storage: add one (name, vmid, node) under proxmox.templates.vm`,
		}},
		{"tls-ca-and-fingerprint", []string{
			`testdata/invalid/tls-ca-and-fingerprint.yaml:6:5: proxmox.tls: set ca_file or fingerprint, not both`,
		}},
		{"type-mismatch", []string{
			`testdata/invalid/type-mismatch.yaml:39:48: guests[1].vmid: expected a whole number, got "one-o-two"`,
		}},
		{"unknown-key", []string{
			`testdata/invalid/unknown-key.yaml:38:53: guests[0].memroy: unknown field "memroy"; did you mean "memory"?`,
		}},
		{"unknown-network", []string{
			`testdata/invalid/unknown-network.yaml:41:66: guests[3].network: unknown network "dmz"`,
		}},
		{"unknown-node", []string{
			`testdata/invalid/unknown-node.yaml:41:39: guests[3].node: unknown node "pve-9" (nodes: pve-1, pve-2)`,
		}},
		{"unknown-template", []string{
			`testdata/invalid/unknown-template.yaml:41:43: guests[3].template: unknown template "ubuntu"`,
		}},
		{"vip-in-dhcp-pool", []string{
			`testdata/invalid/vip-in-dhcp-pool.yaml:46:29: loadbalancer.vips[0].address: 10.0.10.120 is inside the DHCP pool 10.0.10.100-10.0.10.199 of network "lab": static addresses must lie outside it`,
		}},
		{"vip-outside-cidr", []string{
			`testdata/invalid/vip-outside-cidr.yaml:46:29: loadbalancer.vips[0].address: 10.0.99.10 is outside network "lab" (10.0.10.0/24)`,
		}},
		{"kubernetes-version-unsupported", []string{
			`testdata/invalid/kubernetes-version-unsupported.yaml:51:12: kubernetes.version: Kubernetes 1.28.9 is not supported: homelab renders kubeadm configuration for 1.29 to 1.34`,
		}},
		{"vlan-out-of-range", []string{
			`testdata/invalid/vlan-out-of-range.yaml:28:11: networks[0].vlan: VLAN id 5000 is outside 1..4094`,
		}},
		{"vrrp-id-clash", []string{
			`testdata/invalid/vrrp-id-clash.yaml:47:69: loadbalancer.vips[1].router_id: VRRP router id 10 is already used on VLAN 10 by loadbalancer.vips[0].router_id on line 46: two VRRP instances with one id on one VLAN fight over the VIP`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, diags, err := Load("../../inventories/testdata/invalid/" + tt.file + ".yaml")
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			var got []string
			for _, d := range diags.Errors() {
				got = append(got, strings.TrimPrefix(d.String(), "../../inventories/"))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err.Error() != diagsString(verr.Diagnostics) {
				t.Errorf("the error does not list the diagnostics")
			}
		})
	}
}

func diagsString(ds Diagnostics) string {
	var lines []string
	for _, d := range ds {
		lines = append(lines, d.String())
	}
	return strings.Join(lines, "\n")
}
