package routeros

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

// Phase is the "network" phase kind. With a Conn its steps observe and
// apply on the router; without one they can only be planned offline.
type Phase struct {
	Conn *Conn
	// Management is the router address the API session reaches, for the
	// VLAN-filtering safety check; unset means the session's own remote
	// address (see FilteringWork).
	Management netip.Addr
}

// Kind returns "network".
func (Phase) Kind() string { return "network" }

// Description says what the phase does.
func (Phase) Description() string {
	return "VLANs, DHCP servers, static leases and static DNS on the router"
}

// Comment is the ownership mark homelab puts on a RouterOS entry.
func Comment(inv *inventory.Inventory, id step.ID) string {
	return fmt.Sprintf("homelab:%s:%s", inv.Name, id)
}

// Router VLAN modes.
const (
	ModeInterfaces      = "interfaces"
	ModeBridgeFiltering = "bridge-filtering"
)

// Steps returns the router's steps: per network its VLANs, bridge,
// gateway address, pool, DHCP server and DHCP network; per guest a static
// lease; static DNS records for guests and service names.
func (p Phase) Steps(inv *inventory.Inventory) ([]*step.Step, error) {
	b := builder{inv: inv, conn: p.Conn}
	dns := b.remoteDNS()
	for i := range inv.Networks {
		n := &inv.Networks[i]
		var iface step.ID
		if inv.Router.VLANMode == ModeBridgeFiltering {
			iface = b.bridgeFilteringNetwork(n)
		} else {
			iface = b.interfaceNetwork(n)
		}
		member := b.lanMember(n, iface)
		needs := []step.ID{member}
		if dns != "" && usesRouterDNS(inv, n) {
			needs = append(needs, dns)
		}
		b.dhcp(n, needs)
	}
	for i := range inv.Guests {
		b.lease(&inv.Guests[i])
	}
	b.dns()
	if inv.Router.VLANMode == ModeBridgeFiltering {
		b.enableFiltering(p.Management)
	}
	return b.steps, nil
}

type builder struct {
	inv   *inventory.Inventory
	conn  *Conn
	steps []*step.Step
}

// add appends a step that owns one entry of a menu. identity names the
// properties another entry may not share with it (see Entry.Identity).
func (b *builder) add(menu string, identity []string, id step.ID, desc string, needs []step.ID, fields ...step.Field) *step.Step {
	entry := Entry{Menu: menu, Comment: Comment(b.inv, id), Identity: identity}
	if menu == "/ip/dhcp-server/lease" {
		entry.Adopt = "mac-address" // make-static a dynamic lease for our MAC
	}
	for _, f := range fields {
		entry.Props = append(entry.Props, Prop{Name: f.Name, Value: f.New})
	}
	fields = append(fields, step.Set("comment", entry.Comment))
	s := &step.Step{ID: id, Description: desc, Needs: needs, Intent: step.Change{Action: step.Create, Fields: fields}}
	if b.conn != nil {
		s.Work = EntryWork{Conn: b.conn, Entry: entry}
	}
	b.steps = append(b.steps, s)
	return s
}

// VLANInterface is the name of the VLAN interface of network n on port.
func VLANInterface(n *inventory.Network, port string) string {
	return port + "-vlan-" + n.Name
}

// DHCPServer is the name of the DHCP server of network n.
func DHCPServer(n *inventory.Network) string { return "dhcp-" + n.Name }

// Pool is the name of the address pool of network n.
func Pool(n *inventory.Network) string { return "pool-" + n.Name }

// interfaceNetwork adds the network's bridge, VLAN interfaces and gateway
// address, and returns the step of the interface that holds the gateway.
func (b *builder) interfaceNetwork(n *inventory.Network) step.ID {
	bridge := step.ID("router/bridge/" + n.Name)
	b.add("/interface/bridge", []string{"name"}, bridge, fmt.Sprintf("bridge %s for VLAN %d (%s)", n.RouterBridge, n.VLAN, n.Name), nil,
		step.Set("name", n.RouterBridge))
	for _, port := range n.TrunkPorts {
		vlan := step.ID("router/vlan/" + n.Name + "/" + port)
		b.add("/interface/vlan", []string{"name"}, vlan, fmt.Sprintf("VLAN interface %s (VLAN %d on %s)", VLANInterface(n, port), n.VLAN, port), nil,
			step.Set("name", VLANInterface(n, port)),
			step.Set("vlan-id", strconv.Itoa(n.VLAN)),
			step.Set("interface", port))
		b.add("/interface/bridge/port", []string{"interface"}, step.ID("router/bridge-port/"+n.Name+"/"+port), fmt.Sprintf("add %s to bridge %s", VLANInterface(n, port), n.RouterBridge),
			[]step.ID{bridge, vlan},
			step.Set("bridge", n.RouterBridge),
			step.Set("interface", VLANInterface(n, port)))
	}
	b.add("/ip/address", []string{"address"}, step.ID("router/address/"+n.Name), fmt.Sprintf("gateway %s/%d on %s", n.Gateway, n.CIDR.Bits(), n.RouterBridge),
		[]step.ID{bridge},
		step.Set("address", fmt.Sprintf("%s/%d", n.Gateway, n.CIDR.Bits())),
		step.Set("interface", n.RouterBridge))
	return bridge
}

// bridgeFilteringNetwork adds the network's bridge VLAN entry, VLAN
// interface and gateway address, and returns the VLAN interface's step.
func (b *builder) bridgeFilteringNetwork(n *inventory.Network) step.ID {
	bridge := b.inv.Router.Bridge
	entry := b.add("/interface/bridge/vlan", []string{"vlan-ids"}, step.ID("router/bridge-vlan/"+n.Name), fmt.Sprintf("VLAN %d (%s) tagged on %s and its trunk ports", n.VLAN, n.Name, bridge), nil,
		step.Set("bridge", bridge),
		step.Set("vlan-ids", strconv.Itoa(n.VLAN)),
		step.Set("tagged", strings.Join(append([]string{bridge}, n.TrunkPorts...), ",")))
	vlan := b.add("/interface/vlan", []string{"name"}, step.ID("router/vlan/"+n.Name), fmt.Sprintf("VLAN interface %s on %s", n.RouterBridge, bridge), []step.ID{entry.ID},
		step.Set("name", n.RouterBridge),
		step.Set("vlan-id", strconv.Itoa(n.VLAN)),
		step.Set("interface", bridge))
	b.add("/ip/address", []string{"address"}, step.ID("router/address/"+n.Name), fmt.Sprintf("gateway %s/%d on %s", n.Gateway, n.CIDR.Bits(), n.RouterBridge),
		[]step.ID{vlan.ID},
		step.Set("address", fmt.Sprintf("%s/%d", n.Gateway, n.CIDR.Bits())),
		step.Set("interface", n.RouterBridge))
	return vlan.ID
}

// lanMember puts the network's router interface (the one iface made) into
// the LAN interface list, so that the default configuration's input chain
// lets its guests reach the router (DNS).
func (b *builder) lanMember(n *inventory.Network, iface step.ID) step.ID {
	id := step.ID("router/lan-member/" + n.Name)
	entry := LANMemberEntry(Comment(b.inv, id), n.RouterBridge)
	s := &step.Step{ID: id, Description: fmt.Sprintf("%s joins the interface list %s", n.RouterBridge, LANList), Needs: []step.ID{iface},
		Intent: step.Change{Action: step.Create, Fields: []step.Field{step.Set("list", LANList), step.Set("interface", n.RouterBridge), step.Set("comment", entry.Comment)}}}
	if b.conn != nil {
		s.Work = LANMemberWork{Conn: b.conn, Entry: entry}
	}
	b.steps = append(b.steps, s)
	return id
}

// remoteDNS adds the check that the router answers its guests' DNS
// queries when a network gives them the router as DNS server, and returns
// its ID ("" when no network does).
func (b *builder) remoteDNS() step.ID {
	var users []string
	for i := range b.inv.Networks {
		n := &b.inv.Networks[i]
		for _, a := range n.DNS {
			if isRouterAddress(b.inv, a) {
				users = append(users, fmt.Sprintf("%s (%s)", n.Name, a))
				break
			}
		}
	}
	if len(users) == 0 {
		return ""
	}
	id := step.ID("router/dns-remote-requests")
	intent := step.Change{Action: step.None, Reason: "checked: RouterOS's default configuration answers remote DNS requests"}
	if b.inv.Router.DNS.AllowRemoteRequests {
		intent.Reason += "; turned on if off (router.dns.allow_remote_requests)"
	}
	s := &step.Step{ID: id, Description: "the router answers the guests' DNS queries (/ip/dns allow-remote-requests)", Intent: intent}
	if b.conn != nil {
		s.Work = RemoteDNSWork{Conn: b.conn, Networks: users, Allow: b.inv.Router.DNS.AllowRemoteRequests}
	}
	b.steps = append(b.steps, s)
	return id
}

// usesRouterDNS reports whether network n gives its guests one of the
// router's addresses as DNS server.
func usesRouterDNS(inv *inventory.Inventory, n *inventory.Network) bool {
	for _, a := range n.DNS {
		if isRouterAddress(inv, a) {
			return true
		}
	}
	return false
}

// isRouterAddress reports whether a is an address the router holds for
// homelab: a network's gateway.
func isRouterAddress(inv *inventory.Inventory, a netip.Addr) bool {
	for _, n := range inv.Networks {
		if n.Gateway == a {
			return true
		}
	}
	return false
}

// enableFiltering is the last router step in bridge-filtering mode: it runs
// only after every other router entry exists, and refuses when the VLAN
// table does not cover the API connection's own path.
func (b *builder) enableFiltering(mgmt netip.Addr) {
	needs := make([]step.ID, 0, len(b.steps))
	for _, s := range b.steps {
		needs = append(needs, s.ID)
	}
	s := &step.Step{
		ID:          "router/vlan-filtering",
		Description: fmt.Sprintf("enable VLAN filtering on %s", b.inv.Router.Bridge),
		Needs:       needs,
		Intent: step.Change{Action: step.Update, Fields: []step.Field{{Name: "vlan-filtering", Old: "no", New: "yes"}},
			Reason: "enabled last, and only when the VLAN table covers homelab's own API connection"},
	}
	if b.conn != nil {
		s.Work = FilteringWork{Conn: b.conn, Bridge: b.inv.Router.Bridge, Management: mgmt}
	}
	b.steps = append(b.steps, s)
}

// dhcp adds the network's pool, DHCP server and DHCP network. The DHCP
// server also needs the steps in needs (the network's LAN membership, the
// router's DNS check): guests come up only once the router answers them.
func (b *builder) dhcp(n *inventory.Network, needs []step.ID) {
	if n.DHCP == nil {
		return
	}
	pool := b.add("/ip/pool", []string{"name"}, step.ID("router/pool/"+n.Name), fmt.Sprintf("address pool %s", Pool(n)), nil,
		step.Set("name", Pool(n)),
		step.Set("ranges", fmt.Sprintf("%s-%s", n.DHCP.Start, n.DHCP.End)))
	b.add("/ip/dhcp-server", []string{"name", "interface"}, step.DHCPServerID(n.Name), fmt.Sprintf("DHCP server %s on %s", DHCPServer(n), n.RouterBridge),
		append([]step.ID{pool.ID, step.ID("router/address/" + n.Name)}, needs...),
		step.Set("name", DHCPServer(n)),
		step.Set("interface", n.RouterBridge),
		step.Set("address-pool", Pool(n)),
		step.Set("lease-time", n.DHCP.LeaseTime),
		step.Set("disabled", "no")) // RouterOS adds DHCP servers disabled unless told
	dns := make([]string, len(n.DNS))
	for i, a := range n.DNS {
		dns[i] = a.String()
	}
	b.add("/ip/dhcp-server/network", []string{"address"}, step.ID("router/dhcp-network/"+n.Name), fmt.Sprintf("DHCP network %s", n.CIDR), nil,
		step.Set("address", n.CIDR.String()),
		step.Set("gateway", n.Gateway.String()),
		step.Set("dns-server", strings.Join(dns, ",")),
		step.Set("domain", b.inv.Router.Domain))
}

func (b *builder) lease(g *inventory.Guest) {
	n, ok := b.inv.Network(g.Network)
	if !ok || n.DHCP == nil {
		return
	}
	b.add("/ip/dhcp-server/lease", []string{"mac-address", "address"}, step.LeaseID(g.Name), fmt.Sprintf("static lease %s -> %s for %s", g.MAC, g.IP, g.Name),
		[]step.ID{step.DHCPServerID(n.Name)},
		step.Set("server", DHCPServer(n)),
		step.Set("mac-address", strings.ToUpper(g.MAC)), // as RouterOS prints it
		step.Set("address", g.IP.String()))
}

// dns adds an A record per guest, per VIP service name, and for the
// Kubernetes endpoint unless the kubernetes phase pins it on the router.
func (b *builder) dns() {
	seen := map[string]bool{}
	record := func(name, address, what string) {
		fqdn := b.inv.FQDN(name)
		if seen[fqdn] {
			return
		}
		seen[fqdn] = true
		b.add("/ip/dns/static", []string{"name"}, step.DNSRecordID(fqdn), fmt.Sprintf("DNS %s -> %s (%s)", fqdn, address, what), nil,
			step.Set("name", fqdn),
			step.Set("address", address))
	}
	for _, g := range b.inv.Guests {
		record(g.Name, g.IP.String(), "guest")
	}
	if lb := b.inv.LoadBalancer; lb != nil {
		for _, vip := range lb.VIPs {
			for _, name := range vip.DNS {
				if k := b.inv.Kubernetes; k != nil && k.Pin == "router-dns" && b.inv.FQDN(name) == k.Endpoint {
					continue // the kubernetes phase owns the endpoint's record
				}
				record(name, vip.Address.String(), "VIP "+vip.Name)
			}
		}
	}
	if k := b.inv.Kubernetes; k != nil && k.Pin != "router-dns" {
		if vip, ok := b.inv.VIP(k.EndpointVIP); ok {
			record(k.Endpoint, vip.Address.String(), "Kubernetes API endpoint, VIP "+vip.Name)
		}
	}
}
