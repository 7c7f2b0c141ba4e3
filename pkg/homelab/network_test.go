package homelab_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/routeros"
	sim "github.com/homelabctl/homelab/pkg/sim/routeros"
	"github.com/homelabctl/homelab/pkg/step"
)

func writeCommands(s *sim.Server) []string {
	var out []string
	for _, l := range s.Log() {
		cmd, _, _ := strings.Cut(l, " ")
		if !strings.HasSuffix(cmd, "/print") && cmd != "/login" && cmd != "/quit" {
			out = append(out, l)
		}
	}
	return out
}

// The network plan of the reference lab against the RouterOS simulator:
// planning sends only print; applying converges; a second plan is all
// unchanged and a second run writes nothing.
func TestNetworkPhaseAgainstSimulator(t *testing.T) {
	s := sim.New(sim.Options{Users: map[string]string{"homelab": "pw"}})
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn := routeros.NewConn(addr, "homelab", "pw", nil, 2*time.Second)
	defer conn.Close()

	inv, _, err := inventory.Load("../../inventories/rachuna-net.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file, err := plan.LoadFile("../../plans/network.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := PlanOptions{Clients: Clients{Router: conn}}

	p, err := Plan(ctx, inv, file, opts)
	if err != nil {
		t.Fatal(err)
	}
	if w := writeCommands(s); len(w) != 0 {
		t.Fatalf("planning wrote to the router: %v", w)
	}
	// Every step creates, but router/dns-remote-requests: a router reset to
	// its default configuration answers remote DNS requests already.
	if !p.Observed || p.Summary().Create != len(p.Steps)-1 {
		t.Fatalf("first plan: observed %v, %+v of %d steps", p.Observed, p.Summary(), len(p.Steps))
	}

	if _, err := engine.Run(ctx, p.Graph(), engine.Options{Parallelism: 4}); err != nil {
		t.Fatal(err)
	}
	adds := len(writeCommands(s))
	if adds != len(p.Steps)-1 {
		t.Errorf("%d writes for %d steps", adds, len(p.Steps))
	}

	p2, err := Plan(ctx, inv, file, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum := p2.Summary(); sum.None != len(p2.Steps) {
		t.Fatalf("second plan is not converged: %+v", sum)
	}
	if _, err := engine.Run(ctx, p2.Graph(), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if w := writeCommands(s); len(w) != adds {
		t.Errorf("a converged run wrote: %v", w[adds:])
	}

	// Drift: a person removes a DNS record's comment; it is no longer ours.
	if _, err := conn.Run(ctx, "/ip/dns/static/set", "=numbers="+findID(t, conn, "/ip/dns/static", "?name=vault.rachuna-net.pl"), "=comment="); err != nil {
		t.Fatal(err)
	}
	p3, err := Plan(ctx, inv, file, opts)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := p3.Step(step.DNSRecordID("vault.rachuna-net.pl"))
	if st.Change.Action != step.Conflict || !strings.Contains(st.Change.Reason, "comment none") {
		t.Errorf("an entry whose comment was removed: %s %q", st.Change.Action.Name(), st.Change.Reason)
	}
}

func findID(t *testing.T, c *routeros.Conn, menu string, query string) string {
	t.Helper()
	rep, err := c.Run(context.Background(), menu+"/print", "=.proplist=.id", query)
	if err != nil || len(rep.Re) != 1 {
		t.Fatalf("find %s %s: %v %v", menu, query, rep, err)
	}
	return rep.Re[0].Map[".id"]
}

// routerLab starts a RouterOS simulator and a session to it.
func routerLab(t *testing.T, opts sim.Options) (*sim.Server, *routeros.Conn) {
	t.Helper()
	opts.Users = map[string]string{"homelab": "pw"}
	s := sim.New(opts)
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	conn := routeros.NewConn(addr, "homelab", "pw", nil, 2*time.Second)
	t.Cleanup(func() { conn.Close(); s.Close() })
	return s, conn
}

func networkPlan(t *testing.T, inv *inventory.Inventory, c Clients) *plan.Plan {
	t.Helper()
	file, err := plan.LoadFile("../../plans/network.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(context.Background(), inv, file, PlanOptions{Clients: c})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func loadInventory(t *testing.T, path string) *inventory.Inventory {
	t.Helper()
	inv, _, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// Bridge-filtering mode: the VLAN rows go on the factory bridge, and VLAN
// filtering is switched on last; the session drops, homelab redials and
// verifies, and a second plan is converged.
func TestBridgeFilteringConverges(t *testing.T) {
	s, conn := routerLab(t, sim.Options{})
	inv := loadInventory(t, "../../inventories/small.yaml")
	inv.Router.VLANMode, inv.Router.Bridge = routeros.ModeBridgeFiltering, "bridge"
	// The session really reaches a loopback port; the router's own view of
	// it is the factory address on the bridge.
	c := Clients{Router: conn, RouterManagement: netip.MustParseAddr("192.168.88.1")}
	p := networkPlan(t, inv, c)
	last := p.Steps[len(p.Steps)-1]
	if last.ID != "router/vlan-filtering" || last.Change.Action != step.Update || len(last.Needs) != len(p.Steps)-1 {
		t.Fatalf("last step %s %s needs %d of %d", last.ID, last.Change.Action.Name(), len(last.Needs), len(p.Steps)-1)
	}
	if _, err := engine.Run(context.Background(), p.Graph(), engine.Options{Parallelism: 4}); err != nil {
		t.Fatal(err)
	}
	if s.LockedOut() {
		t.Fatal("homelab locked itself out")
	}
	if sum := networkPlan(t, inv, c).Summary(); sum.None != len(p.Steps) {
		t.Fatalf("second plan: %+v", sum)
	}
}

// A connection dropped in the middle of a run is reported with the step
// it hit; the re-run converges with no duplicate entry.
func TestDroppedConnectionMidRunThenRerun(t *testing.T) {
	s, conn := routerLab(t, sim.Options{})
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	c := Clients{Router: conn}
	p := networkPlan(t, inv, c)
	s.DropAfter(25)
	// One attempt per step, as a run whose retries ran out.
	_, err := engine.Run(context.Background(), p.Graph(), engine.Options{Parallelism: 1, Retry: engine.RetryPolicy{MaxAttempts: 1}})
	var se *engine.StepError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "router") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("first run: %v", err)
	if _, err := engine.Run(context.Background(), networkPlan(t, inv, c).Graph(), engine.Options{Parallelism: 4}); err != nil {
		t.Fatal(err)
	}
	p2 := networkPlan(t, inv, c)
	if sum := p2.Summary(); sum.None != len(p2.Steps) {
		t.Fatalf("after the re-run: %+v", sum)
	}
	for _, menu := range []string{"/interface/bridge", "/interface/vlan", "/ip/address", "/ip/dhcp-server/lease", "/ip/dns/static"} {
		rep, err := conn.Run(context.Background(), menu+"/print", "=.proplist=comment")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range rep.Re {
			if cm := r.Map["comment"]; cm != "" && seen[cm] {
				t.Errorf("%s: two entries carry %s", menu, cm)
			}
			seen[r.Map["comment"]] = true
		}
	}
}

// A lease someone made by hand for a guest's address is reported as a
// conflict naming it, the run refuses that step, and the lease is left
// exactly as it was.
func TestForeignLeaseIsReportedNotTouched(t *testing.T) {
	s, conn := routerLab(t, sim.Options{})
	inv := loadInventory(t, "../../inventories/small.yaml")
	g, _ := inv.Guest("lb-1")
	var foreign string
	s.Console(func(r *sim.Router) {
		r.Add("/ip/address", map[string]string{"address": "192.168.30.250/24", "interface": "bridge", "network": "192.168.30.0"})
		foreign = r.Add("/ip/dhcp-server/lease", map[string]string{"address": g.IP.String(), "mac-address": "0C:0C:0C:0C:0C:0C", "server": "all", "comment": "printer", "dynamic": "false", "disabled": "false"})
	})
	c := Clients{Router: conn}
	p := networkPlan(t, inv, c)
	st, _ := p.Step(step.LeaseID("lb-1"))
	if st.Change.Action != step.Conflict || !strings.Contains(st.Change.Reason, foreign) || !strings.Contains(st.Change.Reason, "comment printer") {
		t.Fatalf("lease step: %s %q", st.Change.Action.Name(), st.Change.Reason)
	}
	_, err := engine.Run(context.Background(), p.Graph(), engine.Options{Parallelism: 4})
	if err == nil || !strings.Contains(err.Error(), "step "+string(step.LeaseID("lb-1"))) {
		t.Fatalf("err = %v", err)
	}
	rep, err := conn.Run(context.Background(), "/ip/dhcp-server/lease/print", "?.id="+foreign)
	if err != nil || len(rep.Re) != 1 || rep.Re[0].Map["comment"] != "printer" || rep.Re[0].Map["mac-address"] != "0C:0C:0C:0C:0C:0C" {
		t.Fatalf("the foreign lease changed: %v %v", rep, err)
	}
	for _, l := range s.Log() {
		if strings.Contains(l, "=.id="+foreign) || strings.Contains(l, "=numbers="+foreign) {
			t.Errorf("homelab wrote to the foreign lease: %s", l)
		}
	}
}

// Every RouterOS refusal reaches the user in the router's words, with the
// step and the command that caused it.
func TestRouterErrorsNameTheStep(t *testing.T) {
	tests := []struct {
		prefix, message string
		step            step.ID
	}{
		{"/interface/vlan/add", "value of vlan-id out of range (1..4094)", "router/vlan/lab/ether2"},
		{"/ip/dhcp-server/add", "failure: server or relay with such interface already exists", "router/dhcp-server/lab"},
		{"/ip/dhcp-server/lease/add", "failure: already have static lease with this IP address", step.LeaseID("lb-1")},
		{"/ip/dns/static/add", "failure: entry already exists", "router/dns/lb-1.home.example"},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			s, conn := routerLab(t, sim.Options{})
			inv := loadInventory(t, "../../inventories/small.yaml")
			p := networkPlan(t, inv, Clients{Router: conn})
			s.TrapNext(tt.prefix, tt.message)
			_, err := engine.Run(context.Background(), p.Graph(), engine.Options{Parallelism: 1})
			var se *engine.StepError
			if !errors.As(err, &se) || se.Step != tt.step {
				t.Fatalf("err = %v, want a failure of %s", err, tt.step)
			}
			if !strings.Contains(err.Error(), tt.message) || !strings.Contains(err.Error(), tt.prefix) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// Down lists only what carries this inventory's comment, removes it in the
// reverse order of creation (RouterOS refuses to remove what is in use),
// and leaves foreign and factory entries alone.
func TestDownRemovesOnlyOurRouterEntries(t *testing.T) {
	s, conn := routerLab(t, sim.Options{})
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	c := Clients{Router: conn}
	p := networkPlan(t, inv, c)
	if _, err := engine.Run(context.Background(), p.Graph(), engine.Options{Parallelism: 4}); err != nil {
		t.Fatal(err)
	}
	s.Console(func(r *sim.Router) {
		r.Add("/ip/dns/static", map[string]string{"name": "nas.rachuna-net.pl", "address": "10.0.10.5", "comment": "hand-made", "type": "A", "disabled": "false", "dynamic": "false"})
		r.Add("/ip/dns/static", map[string]string{"name": "old.rachuna-net.pl", "address": "10.0.10.6", "comment": "homelab:other-lab:router/dns/old", "type": "A", "disabled": "false", "dynamic": "false"})
	})
	removals, err := DownPlan(context.Background(), inv, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(removals) != len(p.Steps)-1 { // router/dns-remote-requests owns no entry
		t.Fatalf("down lists %d entries, the plan made %d", len(removals), len(p.Steps))
	}
	if removals[0].Phase != "network" || !strings.HasPrefix(removals[0].What, "/ip/dns/static ") || !strings.HasPrefix(removals[len(removals)-1].What, "/interface/bridge ") {
		t.Errorf("order: first %q, last %q", removals[0].What, removals[len(removals)-1].What)
	}
	var out strings.Builder
	if err := Down(context.Background(), removals, &out); err != nil {
		t.Fatal(err)
	}
	for _, menu := range []string{"/ip/dns/static", "/ip/address", "/interface/bridge"} {
		rep, err := conn.Run(context.Background(), menu+"/print", "=.proplist=comment")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Re {
			if strings.HasPrefix(r.Map["comment"], "homelab:rachuna-net:") {
				t.Errorf("%s: %s survived down", menu, r.Map["comment"])
			}
		}
	}
	rep, _ := conn.Run(context.Background(), "/ip/dns/static/print", "=.proplist=comment")
	if len(rep.Re) != 3 { // and the default configuration's router.lan
		t.Errorf("foreign DNS entries after down: %v", rep.Re)
	}
	rep, _ = conn.Run(context.Background(), "/ip/address/print", "?address=192.168.88.1/24")
	if len(rep.Re) != 1 {
		t.Error("down removed the factory address")
	}
	if again, _ := DownPlan(context.Background(), inv, c); len(again) != 0 {
		t.Errorf("a second down would remove %d entries", len(again))
	}
}
