package plan

import (
	"errors"
	"slices"
	"testing"

	"github.com/homelabctl/homelab/pkg/step"
)

func TestTargeted(t *testing.T) {
	kinds := append(threeKinds(), fakeKind{kind: "extra", steps: []*step.Step{mk("extra/y", "router/a"), mk("extra/z")}})
	reg := registry(t, kinds...)
	p, err := Compile(testInv, planFile(t, "phases: [net, vms, apps, extra]"), reg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		targets    []step.ID
		wantSteps  []step.ID
		wantPhases []string
	}{
		{"a step brings what it needs, in plan order", []step.ID{"guest/x/boot"}, []step.ID{"router/a", "router/b", "guest/x", "guest/x/boot"}, []string{"net", "vms"}},
		{"a step that needs nothing is alone", []step.ID{"extra/z"}, []step.ID{"extra/z"}, []string{"extra"}},
		{"targets add up, each once", []step.ID{"extra/y", "router/b", "extra/y"}, []step.ID{"router/a", "router/b", "extra/y"}, []string{"net", "extra"}},
		{"the last step brings the whole chain", []step.ID{"app/x"}, []step.ID{"router/a", "router/b", "guest/x", "guest/x/boot", "app/x"}, []string{"net", "vms", "apps"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := p.Targeted(tt.targets)
			if err != nil {
				t.Fatal(err)
			}
			var ids []step.ID
			for _, s := range q.Steps {
				ids = append(ids, s.ID)
			}
			var phases []string
			var inPhases int
			for _, ph := range q.Phases {
				phases = append(phases, ph.Name)
				inPhases += len(ph.Steps)
			}
			if !slices.Equal(ids, tt.wantSteps) || !slices.Equal(phases, tt.wantPhases) || inPhases != len(ids) {
				t.Errorf("steps %v in phases %v (%d listed), want %v in %v", ids, phases, inPhases, tt.wantSteps, tt.wantPhases)
			}
			if q.Graph() == nil || q.Graph().Len() != len(ids) {
				t.Errorf("the narrowed graph has %d steps, want %d", q.Graph().Len(), len(ids))
			}
			if q.Inventory != p.Inventory || q.PlanFile != p.PlanFile || q.Observed != p.Observed {
				t.Errorf("header not kept: %+v", q)
			}
		})
	}
	if len(p.Steps) != 7 || p.Graph().Len() != 7 || len(p.Phases) != 4 {
		t.Errorf("Targeted changed the plan it narrowed: %d steps", len(p.Steps))
	}
	var unknown *UnknownTargetError
	if _, err := p.Targeted([]step.ID{"guest/nope"}); !errors.As(err, &unknown) || unknown.Target != "guest/nope" {
		t.Errorf("unknown target: %v", err)
	}
	if _, err := p.Targeted(nil); err == nil {
		t.Error("no targets: no error")
	}
	saved := &Plan{Steps: p.Steps}
	if _, err := saved.Targeted([]step.ID{"app/x"}); err == nil {
		t.Error("a plan without a graph was narrowed")
	}
}
