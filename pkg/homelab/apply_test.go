package homelab

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/plan"
	sim "github.com/homelabctl/homelab/pkg/sim/routeros"
	"github.com/homelabctl/homelab/pkg/step"
)

// savedPlan round-trips a plan through its JSON form, as plan --out and
// apply do.
func savedPlan(t *testing.T, p *plan.Plan) *plan.Plan {
	t.Helper()
	var b bytes.Buffer
	if err := plan.RenderJSON(&b, p); err != nil {
		t.Fatal(err)
	}
	saved, err := plan.ReadSaved(&b)
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

// A saved plan applies when nothing changed, and is refused, with nothing
// written, when the lab changed after it was made.
func TestApplySavedPlan(t *testing.T) {
	s, conn := routerLab(t, sim.Options{})
	inv := loadInventory(t, "../../inventories/small.yaml")
	c := Clients{Router: conn}

	stale := savedPlan(t, networkPlan(t, inv, c))
	// Someone adds a DNS record for lb-1 by hand after the plan was made.
	s.Console(func(r *sim.Router) {
		r.Add("/ip/dns/static", map[string]string{"name": "lb-1.home.example", "address": "192.168.30.99", "comment": "by hand", "type": "A", "disabled": "false", "dynamic": "false"})
	})
	before := len(writeCommands(s))
	_, _, err := Apply(context.Background(), stale, ApplyOptions{Clients: c})
	var se *StalePlanError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "step "+string(step.DNSRecordID("lb-1.home.example"))+" was create (+) in the plan, the lab now says conflict (!)") {
		t.Fatalf("err = %v", err)
	}
	if len(writeCommands(s)) != before {
		t.Fatal("a stale plan wrote to the router")
	}

	// On a lab that did not change, the plan applies as it was shown.
	s2, conn2 := routerLab(t, sim.Options{})
	c2 := Clients{Router: conn2}
	p := savedPlan(t, networkPlan(t, inv, c2))
	_, res, err := Apply(context.Background(), p, ApplyOptions{Clients: c2})
	if err != nil {
		t.Fatal(err)
	}
	// One write per step that shows a change; a check that finds the
	// router as wanted (remote DNS requests already allowed) writes nothing.
	changes := 0
	for _, ps := range p.Steps {
		if ps.Change.Action.Changes() {
			changes++
		}
	}
	if len(res.Steps) != len(p.Steps) || changes == 0 || len(writeCommands(s2)) != changes {
		t.Errorf("%d results for %d steps, %d writes for %d changes", len(res.Steps), len(p.Steps), len(writeCommands(s2)), changes)
	}
}
