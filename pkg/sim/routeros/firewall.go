package routeros

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// packet is what the firewall sees of one packet coming in to the router.
type packet struct {
	proto    string // "udp"
	src, dst netip.Addr
	dstPort  int
	inIface  string
	inLists  []string
	state    string // connection-state: "new" for a first packet
}

// ruleMeta are a filter rule's properties that are not matchers.
var ruleMeta = []string{"chain", "action", "comment", "disabled", "dynamic", "invalid", "log", "log-prefix", "bytes", "packets", "jump-target", "reject-with"}

// input runs p through the input chain of /ip/firewall/filter as RouterOS
// does: rules in order, the first accept or drop (reject, tarpit) decides;
// rules with other actions (log, passthrough, jump, fasttrack) let the
// packet go on; with no deciding rule it is accepted. It returns the
// verdict and the deciding rule's description. A rule with a matcher the
// simulator does not model matches nothing.
func (r *Router) input(p packet) (bool, string) {
	for _, it := range r.menus["/ip/firewall/filter"].items {
		rule := it.props
		if rule["chain"] != "input" || rule["disabled"] == "true" || !matches(rule, p) {
			continue
		}
		what := fmt.Sprintf("filter rule %s (%s)", it.id, rule["comment"])
		switch rule["action"] {
		case "accept":
			return true, what
		case "drop", "reject", "tarpit":
			return false, what
		}
	}
	return true, "no filter rule"
}

func matches(rule map[string]string, p packet) bool {
	for k, v := range rule {
		if slices.Contains(ruleMeta, k) {
			continue
		}
		neg := strings.HasPrefix(v, "!")
		v = strings.TrimPrefix(v, "!")
		var m bool
		switch k {
		case "connection-state":
			m = slices.Contains(strings.Split(v, ","), p.state)
		case "connection-nat-state":
			m = false // a query to the router is neither src- nor dst-NATed
		case "protocol":
			m = v == p.proto
		case "dst-port":
			m = portListHas(v, p.dstPort)
		case "src-address":
			m = addressMatches(v, p.src)
		case "dst-address":
			m = addressMatches(v, p.dst)
		case "in-interface":
			m = v == p.inIface
		case "in-interface-list":
			m = slices.Contains(p.inLists, v)
		case "ipsec-policy":
			m = v == "in,none" // nothing the simulator carries is IPsec
		default:
			return false
		}
		if m == neg {
			return false
		}
	}
	return true
}

// addressMatches reports whether a is the address or in the prefix v.
func addressMatches(v string, a netip.Addr) bool {
	if p, err := netip.ParsePrefix(v); err == nil {
		return p.Masked().Contains(a)
	}
	b, err := netip.ParseAddr(v)
	return err == nil && a == b
}

// portListHas reports whether a port list ("53,80,1000-2000") holds port:
// RouterOS writes port lists as it writes VLAN ID lists.
func portListHas(list string, port int) bool { return numberListHas(list, port) }

// listsOf returns the interface lists iface belongs to: the built-in all
// and static (every interface the simulator has is static), the lists
// with an enabled member entry for it, and lists that include one of
// those (minus those that exclude it), one level deep.
func (r *Router) listsOf(iface string) []string {
	direct := []string{"all", "static"}
	for _, m := range r.menus["/interface/list/member"].items {
		if m.props["interface"] == iface && m.props["disabled"] != "true" {
			direct = append(direct, m.props["list"])
		}
	}
	out := slices.Clone(direct)
	for _, l := range r.menus["/interface/list"].items {
		name := l.props["name"]
		if slices.Contains(out, name) {
			continue
		}
		in := false
		for _, inc := range strings.Split(l.props["include"], ",") {
			in = in || (inc != "" && slices.Contains(direct, inc))
		}
		for _, exc := range strings.Split(l.props["exclude"], ",") {
			in = in && !(exc != "" && slices.Contains(direct, exc))
		}
		if in {
			out = append(out, name)
		}
	}
	return out
}

// dnsDrop says why the router does not answer a DNS query (UDP 53) that a
// host at from sends to it, or "" when it answers: the query comes in on
// the interface whose address's network holds from; the input chain must
// accept it there, and /ip/dns must allow remote requests.
func (r *Router) dnsDrop(from netip.Addr) string {
	iface, local := "", netip.Addr{}
	for _, it := range r.menus["/ip/address"].items {
		if p, err := netip.ParsePrefix(it.props["address"]); err == nil && it.props["disabled"] != "true" && p.Masked().Contains(from) {
			iface, local = it.props["interface"], p.Addr()
			break
		}
	}
	if iface == "" {
		return fmt.Sprintf("no address of the router is on a network that holds %s", from)
	}
	p := packet{proto: "udp", src: from, dst: local, dstPort: 53, inIface: iface, inLists: r.listsOf(iface), state: "new"}
	if ok, rule := r.input(p); !ok {
		return fmt.Sprintf("the query comes in on %s (lists %s) and %s drops it", iface, strings.Join(p.inLists, ","), rule)
	}
	if r.settings["/ip/dns"]["allow-remote-requests"] != "true" {
		return "/ip/dns allow-remote-requests is no: the router answers only its own queries"
	}
	return ""
}
