package routeros

// The default configuration (defconf) a home/office MikroTik router gets
// after `/system reset-configuration` in "RouterMode": what its
// `/system default-configuration print` script applies. Taken from that
// script's text as RouterOS 7 prints it (a dump found in a public
// repository through the code search, the RouterMode variant: WAN on
// ether1, every other port in "bridge" with 192.168.88.1/24), cross-checked
// with `/export` outputs of routers fresh from a reset and the tangentsoft
// wiki page "Default Router Configuration" (RB4011). What the simulator
// keeps of it: the interface lists LAN and WAN and their members, the IPv4
// firewall filter rules (input and forward chains, in order) and the
// srcnat masquerade rule, `/ip dns set allow-remote-requests=yes` and the
// static name router.lan.
//
// Left out (menus the simulator does not model, or entries homelab never
// meets): the bridge ports (ether2..), the defconf DHCP server, pool and
// network, the DHCP client on ether1, the IPv6 firewall, neighbor
// discovery and mac-server settings.

// defconfFilter is /ip firewall filter of the default configuration, in
// order.
var defconfFilter = []map[string]string{
	{"chain": "input", "action": "accept", "connection-state": "established,related,untracked", "comment": "defconf: accept established,related,untracked"},
	{"chain": "input", "action": "drop", "connection-state": "invalid", "comment": "defconf: drop invalid"},
	{"chain": "input", "action": "accept", "protocol": "icmp", "comment": "defconf: accept ICMP"},
	{"chain": "input", "action": "accept", "dst-address": "127.0.0.1", "comment": "defconf: accept to local loopback (for CAPsMAN)"},
	{"chain": "input", "action": "drop", "in-interface-list": "!LAN", "comment": "defconf: drop all not coming from LAN"},
	{"chain": "forward", "action": "accept", "ipsec-policy": "in,ipsec", "comment": "defconf: accept in ipsec policy"},
	{"chain": "forward", "action": "accept", "ipsec-policy": "out,ipsec", "comment": "defconf: accept out ipsec policy"},
	{"chain": "forward", "action": "fasttrack-connection", "connection-state": "established,related", "comment": "defconf: fasttrack"},
	{"chain": "forward", "action": "accept", "connection-state": "established,related,untracked", "comment": "defconf: accept established,related, untracked"},
	{"chain": "forward", "action": "drop", "connection-state": "invalid", "comment": "defconf: drop invalid"},
	{"chain": "forward", "action": "drop", "connection-state": "new", "connection-nat-state": "!dstnat", "in-interface-list": "WAN", "comment": "defconf: drop all from WAN not DSTNATed"},
}

// builtinLists are the interface lists every router has, defconf or not.
var builtinLists = []string{"all", "none", "dynamic", "static"}

// applyDefconf adds the default configuration to a router that has the
// factory interfaces, bridge and address.
func (r *Router) applyDefconf() {
	for _, name := range []string{"WAN", "LAN"} {
		r.insert(r.menus["/interface/list"], map[string]string{"name": name, "comment": "defconf", "builtin": "false", "dynamic": "false"})
	}
	member := r.menus["/interface/list/member"]
	r.insert(member, map[string]string{"list": "LAN", "interface": "bridge", "comment": "defconf", "disabled": "false", "dynamic": "false"})
	r.insert(member, map[string]string{"list": "WAN", "interface": "ether1", "comment": "defconf", "disabled": "false", "dynamic": "false"})
	for _, rule := range defconfFilter {
		props := map[string]string{"disabled": "false", "dynamic": "false"}
		for k, v := range rule {
			props[k] = v
		}
		r.insert(r.menus["/ip/firewall/filter"], props)
	}
	r.insert(r.menus["/ip/firewall/nat"], map[string]string{"chain": "srcnat", "action": "masquerade", "ipsec-policy": "out,none",
		"out-interface-list": "WAN", "comment": "defconf: masquerade", "disabled": "false", "dynamic": "false"})
	r.settings["/ip/dns"]["allow-remote-requests"] = "true"
	r.insert(r.menus["/ip/dns/static"], map[string]string{"name": "router.lan", "address": "192.168.88.1", "type": "A", "ttl": "1d",
		"comment": "defconf", "disabled": "false", "dynamic": "false"})
}
