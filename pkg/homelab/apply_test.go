package homelab_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/homelabctl/homelab/pkg/homelab"
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
	if len(se.Inputs) != 0 || len(se.Steps) != 1 || se.Steps[0].ID != step.DNSRecordID("lb-1.home.example") ||
		se.Steps[0].Saved == nil || se.Steps[0].Saved.Action != step.Create ||
		se.Steps[0].Now == nil || se.Steps[0].Now.Action != step.Conflict || !strings.Contains(se.Steps[0].Now.Reason, "by hand") {
		t.Errorf("the refusal: %+v %+v %+v", se, se.Steps[0].Saved, se.Steps[0].Now)
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

// A saved plan whose inventory changed since is refused before anything
// is observed, naming the file; a plan read back from JSON has no steps
// to Run (Apply runs it).
func TestApplyRefusesChangedInputs(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../inventories/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	inv := loadInventory(t, path)
	file, err := LoadPlanFile("../../plans/network.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(context.Background(), inv, file, PlanOptions{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	saved := savedPlan(t, p)
	if _, err := Run(context.Background(), saved, RunOptions{}); !errors.Is(err, ErrNoGraph) {
		t.Errorf("Run of a saved plan: %v, want ErrNoGraph", err)
	}
	if err := os.WriteFile(path, append(data, []byte("# edited\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = Apply(context.Background(), saved, ApplyOptions{})
	var se *StalePlanError
	if !errors.As(err, &se) || len(se.Inputs) != 1 || se.Inputs[0] != path || len(se.Steps) != 0 {
		t.Fatalf("err = %v (%+v), want a *StalePlanError naming %s", err, se, path)
	}
}
