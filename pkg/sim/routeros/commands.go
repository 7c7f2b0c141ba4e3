package routeros

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// reply is the sentences that answer one command, ending with !done.
type reply [][]string

func done(attrs ...string) reply { return reply{append([]string{"!done"}, attrs...)} }

// trap is RouterOS's failure: !trap with the message, always followed by
// !done, as the router does.
func trap(category int, format string, args ...any) reply {
	return reply{
		{"!trap", fmt.Sprintf("=category=%d", category), "=message=" + fmt.Sprintf(format, args...)},
		{"!done"},
	}
}

// command is a parsed command sentence.
type command struct {
	path    string // "/ip/address"
	verb    string // "print"
	args    map[string]string
	order   []string // argument names in the order given
	queries []string
}

func parseCommand(words []string) command {
	c := command{args: map[string]string{}}
	i := strings.LastIndex(words[0], "/")
	c.path, c.verb = words[0][:i], words[0][i+1:]
	for _, w := range words[1:] {
		switch {
		case strings.HasPrefix(w, "?"):
			c.queries = append(c.queries, w)
		case strings.HasPrefix(w, "="):
			k, v, _ := strings.Cut(w[1:], "=")
			c.args[k] = v
			c.order = append(c.order, k)
		}
	}
	return c
}

// run executes one command against the router. The caller holds the lock.
func (r *Router) run(words []string) reply {
	c := parseCommand(words)
	if c.path == "/interface" && (c.verb == "print" || c.verb == "getall") {
		return printItems(r.interfaces(), c)
	}
	if _, ok := settingsMenus[c.path]; ok {
		return r.runSettings(c.path, c)
	}
	m, ok := r.menus[c.path]
	if !ok {
		return trap(0, "no such command prefix")
	}
	switch c.verb {
	case "print", "getall":
		if m.path == "/interface/bridge/vlan" {
			return printItems(append(slices.Clone(m.items), r.dynamicBridgeVLANs()...), c)
		}
		return printItems(m.items, c)
	case "add":
		return r.add(m, c)
	case "set":
		return r.set(m, c)
	case "remove":
		return r.remove(m, c)
	case "make-static":
		if m.path == "/ip/dhcp-server/lease" {
			return r.makeStatic(m, c)
		}
	}
	return trap(0, "no such command")
}

func printItems(items []*item, c command) reply {
	var proplist []string
	if p, ok := c.args[".proplist"]; ok {
		proplist = strings.Split(p, ",")
	}
	var out reply
	count := 0
	// A query that names .id needs it among the properties; others are
	// matched on the item's own map, without a copy of every item of the
	// menu for every print (a lab of 1,000 leases printed them a million
	// times).
	byID := slices.ContainsFunc(c.queries, func(q string) bool { return strings.Contains(q, ".id") })
	for _, it := range items {
		props := it.props
		if byID {
			props = map[string]string{".id": it.id}
			for k, v := range it.props {
				props[k] = v
			}
		}
		ok, err := matchQuery(props, c.queries)
		if err != nil {
			return trap(5, "%v", err)
		}
		if !ok {
			continue
		}
		count++
		s := []string{"!re"}
		keys := proplist
		if keys == nil {
			keys = append([]string{".id"}, sortedKeys(it.props)...)
		}
		for _, k := range keys {
			if k == ".id" {
				s = append(s, "=.id="+it.id)
			} else if v, ok := props[k]; ok {
				s = append(s, "="+k+"="+v)
			}
		}
		out = append(out, s)
	}
	if _, ok := c.args["count-only"]; ok {
		return done(fmt.Sprintf("=ret=%d", count))
	}
	if len(out) == 0 {
		return append(reply{{"!empty"}}, done()...)
	}
	return append(out, done()...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkArgs refuses unknown arguments and references that do not resolve.
func (r *Router) checkArgs(m *menu, c command, extra ...string) reply {
	if m.attrs == nil {
		return trap(0, "no such command")
	}
	for _, k := range c.order {
		if !slices.Contains(m.attrs, k) && !slices.Contains(extra, k) {
			return trap(1, "unknown parameter %s", k)
		}
	}
	for arg, target := range m.refs {
		v, ok := c.args[arg]
		if !ok || (arg == "server" && v == "all") || (arg == "address-pool" && v == "static-only") {
			continue
		}
		if strings.HasSuffix(arg, "-interface") || strings.HasSuffix(arg, "-interface-list") {
			v = strings.TrimPrefix(v, "!") // firewall matchers take a negation
		}
		if !slices.Contains(r.names(target), v) {
			return trap(1, "input does not match any value of %s", arg)
		}
	}
	if id, ok := c.args["vlan-id"]; ok {
		var n int
		if _, err := fmt.Sscanf(id, "%d", &n); err != nil || n < 1 || n > 4094 {
			return trap(1, "value of vlan-id out of range (1..4094)")
		}
	}
	return nil
}

func (r *Router) add(m *menu, c command) reply {
	if t := r.checkArgs(m, c); t != nil {
		return t
	}
	props := map[string]string{}
	for k, v := range m.defaults {
		props[k] = v
	}
	for k, v := range c.args {
		if v == "" {
			delete(props, k) // an empty value leaves the property unset
			continue
		}
		props[k] = normalise(k, v)
	}
	if m.path == "/ip/address" {
		props["network"] = networkOf(props["address"])
	}
	if t := r.checkLease(m, props); t != nil {
		return t
	}
	if m.duplicate != nil {
		if msg := m.duplicate(r, props, nil); msg != "" {
			return trap(1, "%s", msg)
		}
	}
	it := r.insert(m, props)
	return done("=ret=" + it.id)
}

// targets resolves the items a set, remove or make-static names by ".id" or
// "numbers" (a comma list).
func (m *menu) targets(c command) ([]*item, reply) {
	ids, ok := c.args[".id"]
	if !ok {
		ids, ok = c.args["numbers"]
	}
	if !ok {
		return nil, trap(1, "missing value(s) of argument(s) numbers")
	}
	var out []*item
	for _, id := range strings.Split(ids, ",") {
		it := m.find(id)
		if it == nil && !strings.HasPrefix(id, "*") {
			it = m.named(id) // named menus take a name for an id
		}
		if it == nil {
			return nil, trap(1, "no such item")
		}
		out = append(out, it)
	}
	return out, nil
}

func (r *Router) set(m *menu, c command) reply {
	if t := r.checkArgs(m, c, ".id", "numbers"); t != nil {
		return t
	}
	items, t := m.targets(c)
	if t != nil {
		return t
	}
	for _, it := range items {
		if it.props["dynamic"] == "true" && m.path == "/ip/dhcp-server/lease" {
			return trap(1, "failure: can not change dynamic lease")
		}
		next := map[string]string{}
		for k, v := range it.props {
			next[k] = v
		}
		for k, v := range c.args {
			if k == ".id" || k == "numbers" {
				continue
			}
			if v == "" {
				delete(next, k)
			} else {
				next[k] = normalise(k, v)
			}
		}
		if t := r.checkLease(m, next); t != nil {
			return t
		}
		if m.duplicate != nil {
			if msg := m.duplicate(r, next, it); msg != "" {
				return trap(1, "%s", msg)
			}
		}
		it.props = next
	}
	return done()
}

func (r *Router) remove(m *menu, c command) reply {
	if m.attrs == nil {
		return trap(0, "no such command")
	}
	items, t := m.targets(c)
	if t != nil {
		return t
	}
	for _, it := range items {
		if user := r.user(m, it); user != "" {
			return trap(1, "failure: %s is in use by %s", it.props["name"], user)
		}
	}
	m.items = slices.DeleteFunc(m.items, func(it *item) bool { return slices.Contains(items, it) })
	return done()
}

func (r *Router) makeStatic(m *menu, c command) reply {
	items, t := m.targets(c)
	if t != nil {
		return t
	}
	for _, it := range items {
		it.props["dynamic"] = "false"
	}
	return done()
}

// user names an item that refers to it by name (a bridge port to its
// bridge, an address to its interface, a DHCP server to its pool), or "".
// RouterOS refuses to remove such an item; the exact text of that refusal
// is not in research/routeros.md §3.3, so this one is the simulator's own.
func (r *Router) user(m *menu, it *item) string {
	name := it.props["name"]
	if name == "" {
		return ""
	}
	for _, other := range slices.Sorted(maps.Keys(r.menus)) {
		om := r.menus[other]
		for arg, target := range om.refs {
			if target != m.path && !(target == "/interface" && strings.HasPrefix(m.path, "/interface/")) {
				continue
			}
			for _, o := range om.items {
				if o.props[arg] == name {
					return fmt.Sprintf("%s %s", other, o.id)
				}
			}
		}
	}
	return ""
}

// checkLease refuses a static lease whose address is in none of the
// router's networks, as RouterOS does.
func (r *Router) checkLease(m *menu, props map[string]string) reply {
	if m.path != "/ip/dhcp-server/lease" || props["address"] == "" {
		return nil
	}
	a, err := netip.ParseAddr(props["address"])
	if err != nil {
		return trap(1, "value of address must be an IP address")
	}
	for _, it := range r.menus["/ip/address"].items {
		if p, err := netip.ParsePrefix(it.props["address"]); err == nil && p.Masked().Contains(a) {
			return nil
		}
	}
	return trap(1, "failure: address %s is not in any network", a)
}
