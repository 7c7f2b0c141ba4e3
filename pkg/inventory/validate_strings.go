package inventory

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// The grammars of the places inventory strings end up in. Each string is
// checked at load time against what its destination accepts, so that no
// value can carry a second option into a PVE option string, a line into
// haproxy.cfg or keepalived.conf, a segment into an API path or a URL.
var (
	// pveNode is PVE's pve-node format: node names go into API paths
	// (/nodes/{node}/...).
	pveNode = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)
	// pveStorageID is PVE's pve-storage-id format: storages go into disk
	// option strings (scsi0: <storage>:<size>,...).
	pveStorageID = regexp.MustCompile(`^[a-z][a-z0-9\-_.]*[a-z0-9]$`)
	// pveBridge is PVE's pve-bridge-id format: bridges go into net0
	// (virtio=...,bridge=<bridge>,tag=...).
	pveBridge = regexp.MustCompile(`^[-_.a-zA-Z0-9]+$`)
	// identifier is a name homelab writes into configuration (roles, VIP
	// and frontend names in haproxy.cfg and keepalived.conf, network names
	// in RouterOS names and comments, template names): one word that
	// HAProxy, keepalived and RouterOS read as it is.
	identifier = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$`)
	// routerOSName is a RouterOS interface or user name as homelab writes
	// it: list values are joined with commas, so no commas, spaces, quotes
	// or control characters.
	routerOSName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@+/-]*$`)
	// routerOSDuration is a RouterOS time value: 1d, 30m, 1w2d, 12:00:00.
	routerOSDuration = regexp.MustCompile(`^((\d+[wdhms])+|(\d+d)?\d{1,2}:\d{2}:\d{2})$`)
	// unixUser is a POSIX user name, as cloud-init (ciuser) and sshd take it.
	unixUser = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	// calicoVersion is a Calico release tag: it goes into the manifest URL
	// and the calico/node image reference.
	calicoVersion = regexp.MustCompile(`^v\d{1,4}\.\d{1,4}\.\d{1,4}$`)
	// httpPath is an HTTP check path written as one word of haproxy.cfg
	// (http-check send meth GET uri <path>): RFC 3986 path and query
	// characters without quotes, "#", "!" and braces.
	httpPath = regexp.MustCompile(`^/[A-Za-z0-9\-._~$&()*+,;=:@%/?]*$`)
	// socketPath is an absolute path written as one word of haproxy.cfg.
	socketPath = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)
)

// MaxBridgeName is the longest Linux interface name (IFNAMSIZ - 1), which
// a PVE bridge is.
const MaxBridgeName = 15

// written reports whether field was written in the file (not defaulted
// or inherited), or is to be checked as if it were (see Validate).
func (v *validator) written(field string) bool {
	if v.all {
		return true
	}
	_, ok := v.inv.Source.positions[field]
	return ok
}

// match reports a value that is written and does not match re.
func (v *validator) match(field, value string, re *regexp.Regexp, want string) bool {
	if value == "" || !v.written(field) || re.MatchString(value) {
		return true
	}
	v.errorf(field, "%q is not %s", value, want)
	return false
}

const (
	wantNode      = "a Proxmox VE node name (letters, digits and dashes, as PVE's pve-node format; it goes into API paths)"
	wantStorage   = "a Proxmox VE storage ID (lower-case letters, digits and -_. starting with a letter, as PVE's pve-storage-id format)"
	wantBridge    = "a bridge name (letters, digits and -_., at most 15 characters, as PVE's pve-bridge-id format)"
	wantID        = "a name homelab can write into configuration (letters, digits and -_. starting and ending with a letter or digit, at most 63 characters)"
	wantRouterOS  = "a RouterOS name (letters, digits and _.:@+/-; no spaces, commas, quotes or control characters)"
	wantLeaseTime = "a RouterOS duration such as 1d, 30m, 1w2d or 12:00:00"
	wantUser      = "a user name (lower-case letters, digits, _ and -, at most 32 characters)"
	wantCNI       = "a Calico release such as v3.28.2 (it goes into the manifest URL and the image tag)"
	wantPath      = "an HTTP path for haproxy.cfg (/ then letters, digits and -._~$&()*+,;=:@%/?; no spaces, quotes, #, ! or braces)"
	wantSocket    = "an absolute path for haproxy.cfg (letters, digits and ._/-)"
)

// syntax checks every string against the grammar of where it ends up.
func (v *validator) syntax() {
	inv := v.inv
	p := &inv.Proxmox
	if u, err := url.Parse(p.Endpoint); err == nil && u.Host != "" && !isHost(u.Hostname()) {
		v.errorf("proxmox.endpoint", "%q: %q is not a DNS name or IP address", p.Endpoint, u.Hostname())
	}
	v.path("proxmox.tls.ca_file", p.TLS.CAFile)
	for i, n := range p.Nodes {
		v.match(fmt.Sprintf("proxmox.nodes[%d].name", i), n.Name, pveNode, wantNode)
	}
	v.match("proxmox.storage", p.Storage, pveStorageID, wantStorage)
	for i, t := range p.Templates.VM {
		v.match(fmt.Sprintf("proxmox.templates.vm[%d].name", i), t.Name, identifier, wantID)
	}
	for i, t := range p.Templates.LXC {
		v.match(fmt.Sprintf("proxmox.templates.lxc[%d].name", i), t.Name, identifier, wantID)
	}

	r := &inv.Router
	if host, _, err := net.SplitHostPort(r.Address); err == nil && host != "" && !isHost(host) {
		v.errorf("router.address", "%q: %q is not a DNS name or IP address", r.Address, host)
	}
	if r.TLS != nil {
		v.path("router.tls.ca_file", r.TLS.CAFile)
	}
	v.match("router.username", r.Username, routerOSName, wantRouterOS)
	v.match("router.bridge", r.Bridge, routerOSName, wantRouterOS)

	for i := range inv.Networks {
		n := &inv.Networks[i]
		f := fmt.Sprintf("networks[%d]", i)
		v.match(f+".name", n.Name, identifier, wantID)
		v.match(f+".router_bridge", n.RouterBridge, routerOSName, wantRouterOS)
		for j, port := range n.TrunkPorts {
			v.match(fmt.Sprintf("%s.trunk_ports[%d]", f, j), port, routerOSName, wantRouterOS)
		}
		if n.DHCP != nil {
			v.match(f+".dhcp.lease_time", n.DHCP.LeaseTime, routerOSDuration, wantLeaseTime)
		}
		if v.match(f+".proxmox.bridge", n.Proxmox.Bridge, pveBridge, wantBridge) && len(n.Proxmox.Bridge) > MaxBridgeName {
			v.errorf(f+".proxmox.bridge", "%q is longer than %d characters, the longest Linux interface name", n.Proxmox.Bridge, MaxBridgeName)
		}
	}

	for kind, d := range map[string]*GuestDefaults{"vm": &inv.Defaults.VM, "lxc": &inv.Defaults.LXC} {
		f := "defaults." + kind
		v.match(f+".storage", d.Storage, pveStorageID, wantStorage)
		v.ssh(f+".ssh", d.SSH)
	}
	for i := range inv.Guests {
		g := &inv.Guests[i]
		f := fmt.Sprintf("guests[%d]", i)
		v.match(f+".storage", g.Storage, pveStorageID, wantStorage)
		for j, role := range g.Roles {
			v.match(fmt.Sprintf("%s.roles[%d]", f, j), role, identifier, wantID)
		}
		v.ssh(f+".ssh", g.SSH)
	}

	if lb := inv.LoadBalancer; lb != nil {
		v.match("loadbalancer.role", lb.Role, identifier, wantID)
		for i, vip := range lb.VIPs {
			v.match(fmt.Sprintf("loadbalancer.vips[%d].name", i), vip.Name, identifier, wantID)
		}
		for i := range lb.Frontends {
			fe := &lb.Frontends[i]
			f := fmt.Sprintf("loadbalancer.frontends[%d]", i)
			if v.match(f+".name", fe.Name, identifier, wantID) && strings.HasPrefix(fe.Name, "homelab-") {
				v.errorf(f+".name", "%q: names starting with homelab- are homelab's own frontends", fe.Name)
			}
			v.match(f+".backend.role", fe.Backend.Role, identifier, wantID)
			v.match(f+".check.path", fe.Check.Path, httpPath, wantPath)
		}
		v.match("loadbalancer.stats.socket", lb.Stats.Socket, socketPath, wantSocket)
	}

	if k := inv.Kubernetes; k != nil {
		if k.CNI.Name == CNICalico {
			v.match("kubernetes.cni.version", k.CNI.Version, calicoVersion, wantCNI)
		}
		v.match("kubernetes.control_plane_role", k.ControlPlaneRole, identifier, wantID)
		v.match("kubernetes.worker_role", k.WorkerRole, identifier, wantID)
		v.path("kubernetes.kubeconfig", k.Kubeconfig)
	}
}

// ssh checks an ssh block's user (cloud-init's ciuser, the login name)
// and jump host.
func (v *validator) ssh(field string, s *SSH) {
	if s == nil {
		return
	}
	v.match(field+".user", s.User, unixUser, wantUser)
	if s.Jump != "" && v.written(field+".jump") {
		host, port, err := net.SplitHostPort(s.Jump)
		if err != nil || !isHost(host) || !isPort(port) {
			v.errorf(field+".jump", "%q is not host:port (a DNS name or IP address and a port)", s.Jump)
		}
	}
}

// path checks a local file path: any characters but control characters.
func (v *validator) path(field, p string) {
	if p != "" && v.written(field) && strings.ContainsFunc(p, unicode.IsControl) {
		v.errorf(field, "%q contains a control character", p)
	}
}

// isHost reports whether s is a DNS name or an IP address.
func isHost(s string) bool {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Zone() == ""
	}
	return isDNSName(strings.ToLower(s))
}

func isPort(s string) bool {
	var p int
	_, err := fmt.Sscanf(s, "%d", &p)
	return err == nil && fmt.Sprint(p) == s && p >= 1 && p <= 65535
}
