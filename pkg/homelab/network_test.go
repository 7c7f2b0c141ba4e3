package homelab

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
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
		if !strings.HasSuffix(cmd, "/print") && cmd != "/login" {
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
	if !p.Observed || p.Summary().Create != len(p.Steps) {
		t.Fatalf("first plan: observed %v, %+v of %d steps", p.Observed, p.Summary(), len(p.Steps))
	}

	if _, err := engine.Run(ctx, p.Graph(), engine.Options{Parallelism: 4}); err != nil {
		t.Fatal(err)
	}
	adds := len(writeCommands(s))
	if adds != len(p.Steps) {
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
