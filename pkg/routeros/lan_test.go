package routeros

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	sim "github.com/homelabctl/homelab/pkg/sim/routeros"
	"github.com/homelabctl/homelab/pkg/step"
)

func smallInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	inv, _, err := inventory.Load("../../inventories/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// applySteps observes and applies every step in order (the builder adds
// them after what they need), except those skip names, and returns the
// change each observe returned.
func applySteps(t *testing.T, steps []*step.Step, skip ...step.ID) map[step.ID]step.Change {
	t.Helper()
	ctx := context.Background()
	out := map[step.ID]step.Change{}
	for _, s := range steps {
		if s.ID == "router/vlan-filtering" || slices.Contains(skip, s.ID) {
			continue
		}
		ch, err := s.Work.Observe(ctx)
		if err != nil {
			t.Fatalf("%s: observe: %v", s.ID, err)
		}
		out[s.ID] = ch
		if ch.Action == step.Create || ch.Action == step.Update {
			if err := s.Work.Apply(ctx, ch, io.Discard); err != nil {
				t.Fatalf("%s: apply: %v", s.ID, err)
			}
		}
	}
	return out
}

// On a router reset to its default configuration, a guest on a network
// homelab built resolves names through the router only because the
// network's bridge joined the LAN list: without router/lan-member (what
// homelab did before), the defconf input chain drops its queries. In both
// VLAN modes; a second pass changes nothing.
func TestNetworkJoinsLANForRouterDNS(t *testing.T) {
	for _, mode := range []string{ModeInterfaces, ModeBridgeFiltering} {
		t.Run(mode, func(t *testing.T) {
			s, c := startSim(t)
			inv := smallInventory(t)
			if mode == ModeBridgeFiltering {
				inv.Router.VLANMode, inv.Router.Bridge = ModeBridgeFiltering, "bridge"
			}
			steps, err := Phase{Conn: c}.Steps(inv)
			if err != nil {
				t.Fatal(err)
			}
			guest, _ := inv.Guest("master-1")
			name := inv.FQDN("master-1")
			member := step.ID("router/lan-member/lab")

			applySteps(t, steps, member)
			if _, ok := s.ResolveFrom(guest.IP, name); ok {
				t.Fatal("the router answered a guest on a network outside the LAN list")
			}
			if why := s.DNSDrop(guest.IP); !strings.Contains(why, "drop all not coming from LAN") {
				t.Fatalf("dropped because %q", why)
			}

			got := applySteps(t, steps)
			if got[member].Action != step.Create {
				t.Errorf("%s: %s", member, got[member].Action.Name())
			}
			if a, ok := s.ResolveFrom(guest.IP, name); !ok || a != guest.IP {
				t.Fatalf("ResolveFrom = %v %v: %s", a, ok, s.DNSDrop(guest.IP))
			}
			for id, ch := range applySteps(t, steps) {
				if ch.Action != step.None {
					t.Errorf("second pass: %s %s", id, ch.Action.Name())
				}
			}
		})
	}
}

// The LAN membership and the DHCP server's needs: guests come up only
// after their network joined LAN and the router's DNS check passed.
func TestLANMemberStepsInThePlan(t *testing.T) {
	inv := smallInventory(t)
	steps, err := Phase{}.Steps(inv)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[step.ID]*step.Step{}
	for _, s := range steps {
		byID[s.ID] = s
	}
	m := byID["router/lan-member/lab"]
	if m == nil || len(m.Needs) != 1 || m.Needs[0] != "router/bridge/lab" || m.Intent.Action != step.Create {
		t.Fatalf("lan-member step: %+v", m)
	}
	dhcp := byID[step.DHCPServerID("lab")]
	if !slices.Contains(dhcp.Needs, m.ID) || !slices.Contains(dhcp.Needs, "router/dns-remote-requests") {
		t.Errorf("the DHCP server needs %v", dhcp.Needs)
	}
	// A network whose guests use another DNS server has no DNS check.
	inv.Networks[0].DNS = []netip.Addr{netip.MustParseAddr("9.9.9.9")}
	steps, _ = Phase{}.Steps(inv)
	for _, s := range steps {
		if s.ID == "router/dns-remote-requests" {
			t.Error("a DNS check for a network that does not use the router")
		}
	}
}

// A router that is not from the default configuration has no LAN list:
// the member step changes nothing and says why. Its DNS does not answer
// remote requests: a conflict that names the setting, unless the
// inventory lets homelab turn it on; homelab never writes it otherwise.
func TestRouterWithoutDefaultConfiguration(t *testing.T) {
	s := sim.New(sim.Options{Users: map[string]string{"homelab": "pw"}, NoDefaults: true})
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(addr, "homelab", "pw", nil, 2*time.Second)
	t.Cleanup(func() { c.Close(); s.Close() })
	ctx := context.Background()

	member := LANMemberWork{Conn: c, Entry: LANMemberEntry("homelab:lab:router/lan-member/lab", "bridge")}
	ch, err := member.Observe(ctx)
	if err != nil || ch.Action != step.None || !strings.Contains(ch.Reason, "no interface list LAN") {
		t.Fatalf("member: %s %q %v", ch.Action.Name(), ch.Reason, err)
	}
	if err := member.Apply(ctx, ch, io.Discard); err != nil {
		t.Fatal(err)
	}

	dns := RemoteDNSWork{Conn: c, Networks: []string{"lab (192.168.88.1)"}}
	ch, err = dns.Observe(ctx)
	if err != nil || ch.Action != step.Conflict || !strings.Contains(ch.Reason, "/ip/dns allow-remote-requests is false") ||
		!strings.Contains(ch.Reason, "router.dns.allow_remote_requests: true") || !strings.Contains(ch.Reason, "lab (192.168.88.1)") {
		t.Fatalf("dns: %s %q %v", ch.Action.Name(), ch.Reason, err)
	}
	if err := dns.Apply(ctx, ch, io.Discard); err == nil {
		t.Error("apply of a conflict succeeded")
	}
	if w := writes(s); len(w) != 0 {
		t.Fatalf("wrote to a router it must leave alone: %v", w)
	}

	dns.Allow = true
	ch, err = dns.Observe(ctx)
	if err != nil || ch.Action != step.Update || ch.Fields[0].New != "yes" {
		t.Fatalf("allowed: %s %v", ch.Action.Name(), err)
	}
	var out bytes.Buffer
	if err := dns.Apply(ctx, ch, &out); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.ResolveFrom(netip.MustParseAddr("192.168.88.20"), "router.lan"); ok {
		t.Error("router.lan is a defconf entry; an empty router has none")
	}
	if why := s.DNSDrop(netip.MustParseAddr("192.168.88.20")); why != "" {
		t.Errorf("after the set, still dropped: %s", why)
	}
	if ch, _ := dns.Observe(ctx); ch.Action != step.None {
		t.Errorf("second observe: %s", ch.Action.Name())
	}
}

// An interface someone already put into LAN is left as it is: nothing
// to add, and down does not remove what is not homelab's.
func TestForeignLANMemberIsLeftAlone(t *testing.T) {
	s, c := startSim(t)
	run(t, c, "/interface/bridge/add", "=name=br-lab")
	run(t, c, "/interface/list/member/add", "=list=LAN", "=interface=br-lab", "=comment=mine")
	w := LANMemberWork{Conn: c, Entry: LANMemberEntry("homelab:lab:router/lan-member/lab", "br-lab")}
	ch, err := w.Observe(context.Background())
	if err != nil || ch.Action != step.None || !strings.Contains(ch.Reason, `(comment "mine"), which is not homelab's`) {
		t.Fatalf("%s %q %v", ch.Action.Name(), ch.Reason, err)
	}
	before := len(writes(s))
	if err := w.Apply(context.Background(), ch, io.Discard); err != nil || len(writes(s)) != before {
		t.Fatalf("apply wrote: %v %v", err, writes(s)[before:])
	}
	owned, err := OwnedEntries(context.Background(), c, "lab")
	if err != nil || len(owned) != 0 {
		t.Errorf("owned: %v %v", owned, err)
	}
}

// down removes homelab's member entries before the interfaces they name.
func TestTeardownRemovesMembersBeforeInterfaces(t *testing.T) {
	_, c := startSim(t)
	inv := smallInventory(t)
	steps, err := Phase{Conn: c}.Steps(inv)
	if err != nil {
		t.Fatal(err)
	}
	applySteps(t, steps)
	ctx := context.Background()
	owned, err := OwnedEntries(ctx, c, inv.Name)
	if err != nil {
		t.Fatal(err)
	}
	member, bridge := -1, -1
	for i, o := range owned {
		switch o.Menu {
		case "/interface/list/member":
			member = i
		case "/interface/bridge":
			bridge = i
		}
		if err := Remove(ctx, c, o, io.Discard); err != nil {
			t.Fatalf("remove %s %s: %v", o.Menu, o.Comment, err)
		}
	}
	if member < 0 || bridge < member {
		t.Errorf("member at %d, bridge at %d in %v", member, bridge, owned)
	}
	rep, err := c.Run(ctx, "/interface/list/member/print", "?comment=defconf")
	if err != nil || len(rep.Re) != 2 {
		t.Errorf("the defconf members: %v %v", rep, err)
	}
}
