package routeros

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"time"
)

// item is one row of a menu, with RouterOS's ".id" handle.
type item struct {
	id    string
	props map[string]string
}

// menu is one table of the router's configuration.
type menu struct {
	path string
	// attrs are the arguments add and set accept; nil for read-only menus.
	attrs []string
	// defaults are properties an added item has when not given.
	defaults map[string]string
	// refs name, for an argument, the menu whose "name" it must match.
	refs map[string]string
	// duplicate returns RouterOS's failure message when an item would
	// clash with another (except itself), or "".
	duplicate func(r *Router, props map[string]string, self *item) string
	items     []*item
}

func (m *menu) find(id string) *item {
	for _, it := range m.items {
		if it.id == id {
			return it
		}
	}
	return nil
}

// named returns the one item named name, or nil.
func (m *menu) named(name string) *item {
	var found *item
	for _, it := range m.items {
		if it.props["name"] == name {
			if found != nil {
				return nil
			}
			found = it
		}
	}
	return found
}

// Router is the simulated router's configuration: the menus homelab uses,
// starting the way a factory-configured router looks.
type Router struct {
	menus  map[string]*menu
	nextID int
	// settings are the menus that hold one set of properties (/ip/dns,
	// /system/identity), see settingsMenus.
	settings map[string]map[string]string
	booted   time.Time
}

// NewRouter returns a router as it comes from the factory, reset to its
// default configuration: ether1..ether10, a bridge named "bridge" with the
// address 192.168.88.1/24, and the defconf interface lists, firewall and
// DNS settings (see defconf.go).
func NewRouter() *Router {
	r := newRouter()
	r.applyDefconf()
	return r
}

// NewEmptyRouter returns a router reset without its default configuration
// (`/system reset-configuration no-defaults=yes`, then the interfaces,
// bridge and address NewRouter has): no interface lists but the built-in
// ones, no firewall rules, DNS answering only the router itself.
func NewEmptyRouter() *Router { return newRouter() }

func newRouter() *Router {
	r := &Router{menus: map[string]*menu{}, nextID: 1, settings: defaultSettings(), booted: time.Now()}
	for _, m := range menus() {
		r.menus[m.path] = m
	}
	for _, name := range builtinLists {
		r.insert(r.menus["/interface/list"], map[string]string{"name": name, "builtin": "true", "dynamic": "false"})
	}
	for i := 1; i <= 10; i++ {
		r.insert(r.menus["/interface/ethernet"], map[string]string{"name": fmt.Sprintf("ether%d", i), "mtu": "1500", "disabled": "false"})
	}
	r.insert(r.menus["/interface/bridge"], map[string]string{"name": "bridge", "comment": "defconf", "vlan-filtering": "false", "pvid": "1", "disabled": "false"})
	r.insert(r.menus["/ip/address"], map[string]string{"address": "192.168.88.1/24", "network": "192.168.88.0", "interface": "bridge", "comment": "defconf", "disabled": "false", "dynamic": "false"})
	return r
}

func (r *Router) insert(m *menu, props map[string]string) *item {
	it := &item{id: fmt.Sprintf("*%X", r.nextID), props: props}
	r.nextID++
	m.items = append(m.items, it)
	return it
}

// Add inserts an item into menu path as given, without the API's checks
// (a console or a DHCP client can make rows the API cannot, such as
// dynamic leases), and returns its .id.
func (r *Router) Add(path string, props map[string]string) string {
	m, ok := r.menus[path]
	if !ok {
		panic("routeros sim: no menu " + path)
	}
	return r.insert(m, maps.Clone(props)).id
}

// Set changes properties of the item with .id id in menu path, without the
// API's checks; an empty value removes the property.
func (r *Router) Set(path, id string, props map[string]string) {
	it := r.menus[path].find(id)
	if it == nil {
		panic("routeros sim: no item " + id + " in " + path)
	}
	for k, v := range props {
		if v == "" {
			delete(it.props, k)
		} else {
			it.props[k] = v
		}
	}
}

// interfaces lists every interface by name, as /interface shows them.
func (r *Router) interfaces() []*item {
	var out []*item
	for _, kind := range []struct{ path, typ string }{{"/interface/ethernet", "ether"}, {"/interface/bridge", "bridge"}, {"/interface/vlan", "vlan"}} {
		for _, it := range r.menus[kind.path].items {
			props := map[string]string{"name": it.props["name"], "type": kind.typ, "disabled": it.props["disabled"], "running": "true"}
			out = append(out, &item{id: it.id, props: props})
		}
	}
	return out
}

// names returns the names a reference to menu path can take.
func (r *Router) names(path string) []string {
	var items []*item
	if path == "/interface" {
		items = r.interfaces()
	} else {
		items = r.menus[path].items
	}
	var out []string
	for _, it := range items {
		out = append(out, it.props["name"])
	}
	return out
}

func uniqueIn(path, message string, keys ...string) func(*Router, map[string]string, *item) string {
	return func(r *Router, props map[string]string, self *item) string {
		for _, it := range r.menus[path].items {
			if it == self || it.props["disabled"] == "true" || it.props["dynamic"] == "true" {
				continue
			}
			same := true
			for _, k := range keys {
				if !strings.EqualFold(it.props[k], props[k]) {
					same = false
				}
			}
			if same {
				return message
			}
		}
		return ""
	}
}

// uniqueInterfaceName refuses a name any interface already has.
func uniqueInterfaceName(r *Router, props map[string]string, self *item) string {
	for _, it := range r.interfaces() {
		if (self == nil || it.id != self.id) && it.props["name"] == props["name"] {
			return "failure: already have interface with such name"
		}
	}
	return ""
}

func menus() []*menu {
	common := []string{"comment", "disabled"}
	return []*menu{
		{path: "/interface/ethernet"},
		{path: "/interface/bridge", attrs: append([]string{"name", "vlan-filtering", "pvid", "frame-types", "ingress-filtering", "protocol-mode"}, common...),
			defaults: map[string]string{"vlan-filtering": "false", "pvid": "1", "disabled": "false"}, duplicate: uniqueInterfaceName},
		{path: "/interface/bridge/port", attrs: append([]string{"bridge", "interface", "pvid", "frame-types", "ingress-filtering"}, common...),
			defaults:  map[string]string{"pvid": "1", "disabled": "false", "dynamic": "false"},
			refs:      map[string]string{"bridge": "/interface/bridge", "interface": "/interface"},
			duplicate: uniqueIn("/interface/bridge/port", "failure: device already added as bridge port", "interface")},
		{path: "/interface/bridge/vlan", attrs: append([]string{"bridge", "vlan-ids", "tagged", "untagged"}, common...),
			defaults:  map[string]string{"disabled": "false", "dynamic": "false"},
			refs:      map[string]string{"bridge": "/interface/bridge"},
			duplicate: uniqueIn("/interface/bridge/vlan", "failure: vlan already added", "bridge", "vlan-ids")},
		{path: "/interface/vlan", attrs: append([]string{"name", "vlan-id", "interface", "mtu"}, common...),
			defaults: map[string]string{"mtu": "1500", "disabled": "false"},
			refs:     map[string]string{"interface": "/interface"}, duplicate: uniqueInterfaceName},
		{path: "/ip/address", attrs: append([]string{"address", "interface", "network"}, common...),
			defaults:  map[string]string{"disabled": "false", "dynamic": "false"},
			refs:      map[string]string{"interface": "/interface"},
			duplicate: uniqueIn("/ip/address", "failure: already have such address", "address", "interface")},
		{path: "/ip/pool", attrs: []string{"name", "ranges", "next-pool", "comment"},
			duplicate: uniqueIn("/ip/pool", "failure: pool with such name exists", "name")},
		{path: "/ip/dhcp-server", attrs: append([]string{"name", "interface", "address-pool", "lease-time", "authoritative"}, common...),
			defaults:  map[string]string{"disabled": "true", "lease-time": "30m"},
			refs:      map[string]string{"interface": "/interface", "address-pool": "/ip/pool"},
			duplicate: uniqueIn("/ip/dhcp-server", "failure: server with such name already exists", "name")},
		{path: "/ip/dhcp-server/network", attrs: []string{"address", "gateway", "dns-server", "domain", "ntp-server", "netmask", "comment"},
			duplicate: uniqueIn("/ip/dhcp-server/network", "failure: such network already exists", "address")},
		{path: "/ip/dhcp-server/lease", attrs: append([]string{"address", "mac-address", "server", "client-id", "lease-time", "block-access"}, common...),
			defaults: map[string]string{"disabled": "false", "dynamic": "false"},
			refs:     map[string]string{"server": "/ip/dhcp-server"}, duplicate: leaseDuplicate},
		{path: "/interface/list", attrs: []string{"name", "include", "exclude", "comment"},
			defaults: map[string]string{"builtin": "false", "dynamic": "false"},
			// The text of RouterOS's refusal is the simulator's own.
			duplicate: uniqueIn("/interface/list", "failure: interface list with such name already exists", "name")},
		{path: "/interface/list/member", attrs: append([]string{"list", "interface"}, common...),
			defaults: map[string]string{"disabled": "false", "dynamic": "false"},
			refs:     map[string]string{"list": "/interface/list", "interface": "/interface"},
			// The text of RouterOS's refusal is the simulator's own.
			duplicate: uniqueIn("/interface/list/member", "failure: already have such member", "list", "interface")},
		{path: "/ip/firewall/filter", attrs: append([]string{"chain", "action", "connection-state", "connection-nat-state", "protocol",
			"src-address", "dst-address", "dst-port", "in-interface", "in-interface-list", "out-interface", "out-interface-list",
			"ipsec-policy", "jump-target", "log", "log-prefix"}, common...),
			defaults: map[string]string{"action": "accept", "disabled": "false", "dynamic": "false"},
			refs: map[string]string{"in-interface": "/interface", "out-interface": "/interface",
				"in-interface-list": "/interface/list", "out-interface-list": "/interface/list"}},
		{path: "/ip/firewall/nat", attrs: append([]string{"chain", "action", "src-address", "dst-address", "protocol", "dst-port",
			"in-interface", "in-interface-list", "out-interface", "out-interface-list", "ipsec-policy", "to-addresses", "to-ports"}, common...),
			defaults: map[string]string{"action": "accept", "disabled": "false", "dynamic": "false"},
			refs: map[string]string{"in-interface": "/interface", "out-interface": "/interface",
				"in-interface-list": "/interface/list", "out-interface-list": "/interface/list"}},
		{path: "/ip/dns/static", attrs: append([]string{"name", "address", "type", "ttl", "match-subdomain"}, common...),
			defaults:  map[string]string{"type": "A", "ttl": "1d", "disabled": "false", "dynamic": "false"},
			duplicate: uniqueIn("/ip/dns/static", "failure: entry already exists", "name", "type", "address")},
	}
}

func leaseDuplicate(r *Router, props map[string]string, self *item) string {
	if msg := uniqueIn("/ip/dhcp-server/lease", "failure: already have static lease with this IP address", "address")(r, props, self); msg != "" {
		return msg
	}
	return uniqueIn("/ip/dhcp-server/lease", "failure: already have static lease for this client", "mac-address", "server")(r, props, self)
}

// normalise rewrites values the way RouterOS prints them back.
func normalise(key, value string) string {
	switch {
	case value == "yes" && isBoolean(key):
		return "true"
	case value == "no" && isBoolean(key):
		return "false"
	case key == "mac-address":
		return strings.ToUpper(value)
	}
	return value
}

func isBoolean(key string) bool {
	switch key {
	case "disabled", "vlan-filtering", "ingress-filtering", "authoritative", "block-access", "match-subdomain",
		"allow-remote-requests", "verify-doh-cert", "log":
		return true
	}
	return false
}

// networkOf derives /ip/address's network property.
func networkOf(address string) string {
	p, err := netip.ParsePrefix(address)
	if err != nil {
		return ""
	}
	return p.Masked().Addr().String()
}
