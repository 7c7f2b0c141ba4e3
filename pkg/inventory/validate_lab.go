package inventory

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

func (v *validator) networks() {
	names := map[string]string{}
	vlans := map[string]string{}
	for i := range v.inv.Networks {
		n := &v.inv.Networks[i]
		f := fmt.Sprintf("networks[%d]", i)
		if v.required(f+".name", n.Name == "") {
			v.unique(names, n.Name, f+".name", "network name")
		}
		if n.VLAN < 1 || n.VLAN > 4094 {
			v.errorf(f+".vlan", "VLAN id %d is outside 1..4094", n.VLAN)
		} else {
			v.unique(vlans, strconv.Itoa(n.VLAN), f+".vlan", "VLAN id")
		}
		v.required(f+".trunk_ports", len(n.TrunkPorts) == 0)
		v.required(f+".proxmox.bridge", n.Proxmox.Bridge == "")
		if !v.prefix(f+".cidr", n.CIDR) {
			continue
		}
		if v.required(f+".gateway", !n.Gateway.IsValid()) {
			if !n.CIDR.Contains(n.Gateway) {
				v.errorf(f+".gateway", "%s is outside the network's CIDR %s", n.Gateway, n.CIDR)
			} else if inPool(n, n.Gateway) {
				v.errorf(f+".gateway", "%s is inside the DHCP pool %s-%s", n.Gateway, n.DHCP.Start, n.DHCP.End)
			}
			v.claimIP(n.Gateway, f+".gateway")
		}
		if d := n.DHCP; d != nil {
			okStart := v.inNetwork(f+".dhcp.start", d.Start, n)
			okEnd := v.inNetwork(f+".dhcp.end", d.End, n)
			if okStart && okEnd && d.End.Less(d.Start) {
				v.errorf(f+".dhcp.end", "the pool ends (%s) before it starts (%s)", d.End, d.Start)
			}
		}
		for j := range i {
			o := &v.inv.Networks[j]
			if o.CIDR.IsValid() && o.CIDR.Overlaps(n.CIDR) {
				v.errorf(f+".cidr", "%s overlaps %s of network %q (%s)", n.CIDR, o.CIDR, o.Name, v.where(fmt.Sprintf("networks[%d].cidr", j)))
			}
		}
	}
}

// prefix checks that p is set and is a network address.
func (v *validator) prefix(field string, p netip.Prefix) bool {
	if !v.required(field, !p.IsValid()) {
		return false
	}
	if p.Masked() != p {
		v.errorf(field, "%s is not a network address; did you mean %s?", p, p.Masked())
		return false
	}
	return true
}

// inNetwork checks that a is set and inside n's CIDR.
func (v *validator) inNetwork(field string, a netip.Addr, n *Network) bool {
	if !v.required(field, !a.IsValid()) {
		return false
	}
	if !n.CIDR.IsValid() {
		return false
	}
	if !n.CIDR.Contains(a) {
		v.errorf(field, "%s is outside network %q (%s)", a, n.Name, n.CIDR)
		return false
	}
	if a == n.CIDR.Addr() {
		v.errorf(field, "%s is the network address of %s", a, n.CIDR)
		return false
	}
	return true
}

func inPool(n *Network, a netip.Addr) bool {
	d := n.DHCP
	return d != nil && d.Start.IsValid() && d.End.IsValid() && !a.Less(d.Start) && !d.End.Less(a)
}

// staticIP checks an address that must be in network n and outside its pool.
func (v *validator) staticIP(field string, a netip.Addr, n *Network) {
	if !v.inNetwork(field, a, n) {
		return
	}
	if inPool(n, a) {
		v.errorf(field, "%s is inside the DHCP pool %s-%s of network %q: static addresses must lie outside it", a, n.DHCP.Start, n.DHCP.End, n.Name)
	}
	v.claimIP(a, field)
}

func (v *validator) guests() {
	names := map[string]string{}
	macs := map[string]string{}
	for i := range v.inv.Guests {
		g := &v.inv.Guests[i]
		f := fmt.Sprintf("guests[%d]", i)
		_, dupName := names[g.Name]
		if v.required(f+".name", g.Name == "") {
			if !dnsLabel.MatchString(g.Name) {
				v.errorf(f+".name", "%q is not a host name (lower-case letters, digits, dashes)", g.Name)
			}
			v.unique(names, g.Name, f+".name", "guest name")
		}
		switch g.Kind {
		case KindVM, KindLXC:
		case "":
			v.required(f+".kind", true)
		default:
			v.errorf(f+".kind", "%q: want vm or lxc", g.Kind)
		}
		knownNode := v.required(f+".node", g.Node == "") && v.hasNode(g.Node)
		if g.Node != "" && !knownNode {
			v.errorf(f+".node", "unknown node %q (nodes: %s)", g.Node, strings.Join(v.nodeNames(), ", "))
		}
		v.vmid(f+".vmid", g.VMID)
		if g.CloudInitUpgrade && g.Kind == KindLXC {
			v.errorf(f+".cloud_init_upgrade", "a container does not run cloud-init: cloud_init_upgrade is for VMs")
		}
		v.template(f, g, knownNode)
		for _, r := range []struct {
			field string
			value int
		}{{".cores", g.Cores}, {".memory", g.Memory}, {".disk", g.Disk}} {
			if r.value < 1 {
				v.errorf(f+r.field, "must be at least 1 (set it on the guest or in defaults.%s)", g.Kind)
			}
		}
		if v.required(f+".network", g.Network == "") {
			if n, ok := v.inv.Network(g.Network); !ok {
				v.errorf(f+".network", "unknown network %q", g.Network)
			} else if v.required(f+".ip", !g.IP.IsValid()) {
				v.staticIP(f+".ip", g.IP, n)
			}
		}
		if hw, err := net.ParseMAC(g.MAC); err != nil || len(hw) != 6 {
			v.errorf(f+".mac", "%q is not a MAC address such as 02:00:00:00:00:01", g.MAC)
		} else if hw[0]&1 == 1 {
			v.errorf(f+".mac", "%s is a multicast address; a NIC needs a unicast one", g.MAC)
		} else if !(g.MACDerived && dupName) { // a duplicate name already explains it
			field := f + ".mac"
			if g.MACDerived {
				field = f + ".name"
			}
			v.unique(macs, g.MAC, field, "MAC")
		}
	}
}

func (v *validator) template(f string, g *Guest, knownNode bool) {
	if !v.required(f+".template", g.Template == "") {
		return
	}
	_, isLXC := v.inv.LXCTemplate(g.Template)
	isVM := slices.ContainsFunc(v.inv.Proxmox.Templates.VM, func(t VMTemplate) bool { return t.Name == g.Template })
	switch {
	case g.Kind == KindVM && isLXC:
		v.errorf(f+".template", "%q is an LXC template; a vm needs a VM template", g.Template)
	case g.Kind == KindLXC && isVM:
		v.errorf(f+".template", "%q is a VM template; an lxc needs an LXC template", g.Template)
	case g.Kind == KindVM && !isVM, g.Kind == KindLXC && !isLXC:
		v.errorf(f+".template", "unknown template %q", g.Template)
	case g.Kind == KindVM && knownNode:
		if _, ok := v.inv.VMTemplate(g.Template, g.Node); !ok {
			v.errorf(f+".template", "template %q has no copy on node %s and none on shared storage: add one (name, vmid, node) under proxmox.templates.vm", g.Template, g.Node)
		}
	}
}

func (v *validator) loadBalancer() {
	lb := v.inv.LoadBalancer
	if lb == nil {
		return
	}
	v.required("loadbalancer.vrrp_password", lb.VRRPPassword == "")
	lbs := v.inv.LoadBalancers()
	if len(lbs) == 0 {
		v.errorf("loadbalancer.role", "no guest has the role %q", lb.Role)
	}
	names := map[string]string{}
	vrids := map[string]string{}
	for i := range lb.VIPs {
		vip := &lb.VIPs[i]
		f := fmt.Sprintf("loadbalancer.vips[%d]", i)
		if v.required(f+".name", vip.Name == "") {
			v.unique(names, vip.Name, f+".name", "VIP name")
		}
		if vip.RouterID < 1 || vip.RouterID > 255 {
			v.errorf(f+".router_id", "VRRP router id %d is outside 1..255", vip.RouterID)
		}
		if !v.required(f+".network", vip.Network == "") {
			continue
		}
		n, ok := v.inv.Network(vip.Network)
		if !ok {
			v.errorf(f+".network", "unknown network %q", vip.Network)
			continue
		}
		if v.required(f+".address", !vip.Address.IsValid()) {
			v.staticIP(f+".address", vip.Address, n)
		}
		if vip.RouterID >= 1 && vip.RouterID <= 255 {
			key := fmt.Sprintf("%d/%d", n.VLAN, vip.RouterID)
			if first, dup := vrids[key]; dup {
				v.errorf(f+".router_id", "VRRP router id %d is already used on VLAN %d by %s: two VRRP instances with one id on one VLAN fight over the VIP", vip.RouterID, n.VLAN, v.where(first))
			} else {
				vrids[key] = f + ".router_id"
			}
		}
		for _, g := range lbs {
			if g.Network != vip.Network {
				gi := slices.IndexFunc(v.inv.Guests, func(x Guest) bool { return x.Name == g.Name })
				v.errorf(fmt.Sprintf("guests[%d].network", gi), "load balancer %s is on %q but VIP %s is on %q: keepalived can only hold a VIP on its own network", g.Name, g.Network, vip.Name, vip.Network)
			}
		}
		for j, name := range vip.DNS {
			if !isDNSName(name) {
				v.errorf(fmt.Sprintf("%s.dns[%d]", f, j), "%q is not a DNS name", name)
			}
		}
	}
	fronts := map[string]string{}
	ports := map[string]string{}
	for i := range lb.Frontends {
		fe := &lb.Frontends[i]
		f := fmt.Sprintf("loadbalancer.frontends[%d]", i)
		if v.required(f+".name", fe.Name == "") {
			v.unique(fronts, fe.Name, f+".name", "frontend name")
		}
		if v.required(f+".vip", fe.VIP == "") {
			if _, ok := v.inv.VIP(fe.VIP); !ok {
				v.errorf(f+".vip", "unknown VIP %q", fe.VIP)
			}
		}
		if v.port(f+".port", fe.Port) {
			v.unique(ports, fmt.Sprintf("%s:%d", fe.VIP, fe.Port), f+".port", "VIP and port")
		}
		if fe.Mode != ModeTCP && fe.Mode != ModeHTTP {
			v.errorf(f+".mode", "%q: want tcp or http", fe.Mode)
		}
		if v.required(f+".backend.role", fe.Backend.Role == "") && len(v.inv.GuestsWithRole(fe.Backend.Role)) == 0 {
			v.errorf(f+".backend.role", "no guest has the role %q", fe.Backend.Role)
		}
		v.port(f+".backend.port", fe.Backend.Port)
		switch fe.Check.Kind {
		case CheckTCP:
		case CheckHTTP, CheckHTTPS:
			if !strings.HasPrefix(fe.Check.Path, "/") {
				v.errorf(f+".check.path", "an %s check needs a path starting with /", fe.Check.Kind)
			}
			if fe.Check.Expect < 100 || fe.Check.Expect > 599 {
				v.errorf(f+".check.expect", "%d is not an HTTP status", fe.Check.Expect)
			}
		default:
			v.errorf(f+".check.kind", "%q: want tcp, http or https", fe.Check.Kind)
		}
	}
	if p := lb.Stats.Port; p != -1 {
		v.port("loadbalancer.stats.port", p)
	}
}

func (v *validator) port(field string, p int) bool {
	if p < 1 || p > 65535 {
		v.errorf(field, "port %d is outside 1..65535", p)
		return false
	}
	return true
}

func (v *validator) kubernetes() {
	k := v.inv.Kubernetes
	if k == nil {
		return
	}
	v.kubernetesVersion(k.Version)
	if v.required("kubernetes.endpoint", k.Endpoint == "") && !isDNSName(k.Endpoint) {
		v.errorf("kubernetes.endpoint", "%q is not a DNS name: the endpoint must be a name that can move from master1 to the VIP", k.Endpoint)
	}
	switch {
	case v.inv.LoadBalancer == nil:
		v.errorf("kubernetes", "a kubeadm cluster behind a VIP needs a loadbalancer section")
	case k.EndpointVIP == "":
		v.required("kubernetes.endpoint_vip", true)
	default:
		if _, ok := v.inv.VIP(k.EndpointVIP); !ok {
			v.errorf("kubernetes.endpoint_vip", "unknown VIP %q", k.EndpointVIP)
		}
	}
	if k.Pin != "hosts" && k.Pin != "router-dns" {
		v.errorf("kubernetes.pin", "%q: want hosts or router-dns", k.Pin)
	}
	v.kubernetesSources(k)
	subnets := []struct {
		field string
		p     netip.Prefix
	}{{"kubernetes.pod_subnet", k.PodSubnet}, {"kubernetes.service_subnet", k.ServiceSubnet}}
	for i, s := range subnets {
		if !v.prefix(s.field, s.p) {
			continue
		}
		for j, n := range v.inv.Networks {
			if n.CIDR.IsValid() && n.CIDR.Overlaps(s.p) {
				v.errorf(s.field, "%s overlaps network %q (%s, %s)", s.p, n.Name, n.CIDR, v.where(fmt.Sprintf("networks[%d].cidr", j)))
			}
		}
		if i == 1 && subnets[0].p.IsValid() && subnets[0].p.Overlaps(s.p) {
			v.errorf(s.field, "%s overlaps the pod subnet %s", s.p, subnets[0].p)
		}
	}
	switch cps := len(v.inv.ControlPlanes()); {
	case cps == 0:
		v.errorf("kubernetes.control_plane_role", "no guest has the role %q: the cluster needs at least one control plane", k.ControlPlaneRole)
	case cps%2 == 0:
		v.warnf("kubernetes.control_plane_role", "%d control planes: etcd tolerates no more failures with %d members than with %d; use an odd number", cps, cps, cps-1)
	}
}

// CheckSecrets resolves every secret reference, as a run does, and checks
// what can only be checked on the value: the VRRP password's length. An
// authorized_keys file that could not be read is an error here too
// (CheckKeys).
// Problems carry the reference's position; values never appear.
func (inv *Inventory) CheckSecrets(r Resolver) error {
	v := &validator{inv: inv}
	resolve := func(field string, ref SecretRef) (string, bool) {
		if ref == "" {
			return "", false
		}
		val, err := r.Resolve(ref)
		if err != nil {
			v.errorf(field, "%v", err)
			return "", false
		}
		return val, true
	}
	resolve("proxmox.token_secret", inv.Proxmox.TokenSecret)
	resolve("router.password", inv.Router.Password)
	if lb := inv.LoadBalancer; lb != nil {
		if pw, ok := resolve("loadbalancer.vrrp_password", lb.VRRPPassword); ok {
			if err := CheckVRRPPassword(pw); err != nil {
				v.errorf("loadbalancer.vrrp_password", "%s: %v", lb.VRRPPassword, err)
			}
		}
	}
	for i, g := range inv.Guests {
		if g.SSH != nil {
			resolve(fmt.Sprintf("guests[%d].ssh.private_key", i), g.SSH.PrivateKey)
		}
	}
	var keys *ValidationError
	if errors.As(inv.CheckKeys(), &keys) {
		v.diags = append(v.diags, keys.Diagnostics...)
	}
	v.diags.sort()
	return v.diags.Err()
}
