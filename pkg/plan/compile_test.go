package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

// fakeKind is a phase kind whose steps are given by the test.
type fakeKind struct {
	kind  string
	steps []*step.Step
	err   error
}

func (f fakeKind) Kind() string        { return f.kind }
func (f fakeKind) Description() string { return f.kind + " things" }
func (f fakeKind) Steps(*inventory.Inventory) ([]*step.Step, error) {
	out := make([]*step.Step, len(f.steps))
	for i, s := range f.steps {
		c := *s
		out[i] = &c
	}
	return out, f.err
}

func mk(id string, needs ...string) *step.Step {
	s := &step.Step{ID: step.ID(id), Description: "do " + id, Intent: step.Change{Action: step.Create}}
	for _, n := range needs {
		s.Needs = append(s.Needs, step.ID(n))
	}
	return s
}

func registry(t *testing.T, kinds ...PhaseKind) *Registry {
	t.Helper()
	reg, err := NewRegistry(kinds...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func planFile(t *testing.T, text string) *File {
	t.Helper()
	f, err := ParseFile("plans/test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var testInv = &inventory.Inventory{Name: "lab"}

func threeKinds() []PhaseKind {
	return []PhaseKind{
		fakeKind{kind: "net", steps: []*step.Step{mk("router/a"), mk("router/b", "router/a")}},
		fakeKind{kind: "vms", steps: []*step.Step{mk("guest/x", "router/b"), mk("guest/x/boot", "guest/x")}},
		fakeKind{kind: "apps", steps: []*step.Step{mk("app/x", "guest/x/boot")}},
	}
}

func TestCompileKeepsPhaseOrderAndNeeds(t *testing.T) {
	reg := registry(t, threeKinds()...)
	p, err := Compile(testInv, planFile(t, "phases: [net, vms, {kind: apps, name: applications}]"), reg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []step.ID
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	want := []step.ID{"router/a", "router/b", "guest/x", "guest/x/boot", "app/x"}
	if !slices.Equal(ids, want) {
		t.Fatalf("steps = %v, want %v", ids, want)
	}
	if p.Phases[2].Name != "applications" || p.Phases[2].Kind != "apps" || p.Steps[4].Phase != "applications" {
		t.Errorf("phase naming lost: %+v", p.Phases[2])
	}
	if p.Graph() == nil || p.Graph().Len() != 5 || len(p.Graph().Edges()) != 4 {
		t.Errorf("graph wrong")
	}
	if p.Observed || p.FormatVersion != FormatVersion || !p.HasChanges() {
		t.Errorf("plan header wrong: %+v", p)
	}
	if s := p.Summary(); s.Create != 5 {
		t.Errorf("summary = %+v", s)
	}
}

func TestCompileTurnsNeedsOutsideThePlanIntoAssumptions(t *testing.T) {
	reg := registry(t, threeKinds()...)
	p, err := Compile(testInv, planFile(t, "phases: [apps]"), reg)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.Step("app/x")
	if len(s.Needs) != 0 || !slices.Equal(s.Assumes, []step.ID{"guest/x/boot"}) {
		t.Fatalf("needs %v assumes %v", s.Needs, s.Assumes)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		kinds []PhaseKind
		plan  string
		want  string
	}{
		{"unknown kind", threeKinds(), "phases:\n  - net\n  - kind: dns\n",
			`plans/test.yaml:3:11: kind: unknown phase kind "dns" (known: net, vms, apps)`},
		{"phase before one it needs", threeKinds(), "phases:\n  - vms\n  - net\n",
			`plans/test.yaml:2:5: phases: phase "vms" needs phase "net" (guest/x needs router/b), but the plan orders it before: move "net" above "vms"`},
		{"cycle", []PhaseKind{fakeKind{kind: "k", steps: []*step.Step{mk("a", "c"), mk("b", "a"), mk("c", "b")}}}, "phases: [k]",
			"compile plan test: cycle of needs: a -> b -> c -> a"},
		{"need nobody produces", []PhaseKind{fakeKind{kind: "k", steps: []*step.Step{mk("a", "ghost")}}}, "phases: [k]",
			"step a: needs ghost, which no phase kind produces"},
		{"step in two kinds", []PhaseKind{fakeKind{kind: "k", steps: []*step.Step{mk("a")}}, fakeKind{kind: "l", steps: []*step.Step{mk("a")}}}, "phases: [k]",
			"step a: produced by phase kinds k and l"},
		{"phase kind fails", []PhaseKind{fakeKind{kind: "k", err: errors.New("no control plane")}}, "phases: [k]",
			"phase kind k: no control plane"},
		{"lock capacities disagree", []PhaseKind{fakeKind{kind: "k", steps: []*step.Step{
			{ID: "a", Locks: []step.Lock{{Key: "node/1", Capacity: 2}}},
			{ID: "b", Locks: []step.Lock{{Key: "node/1", Capacity: 3}}},
		}}}, "phases: [k]", "lock node/1: step a says capacity 2, step b says 3"},
		{"zero capacity", []PhaseKind{fakeKind{kind: "k", steps: []*step.Step{{ID: "a", Locks: []step.Lock{{Key: "t"}}}}}}, "phases: [k]",
			"step a: lock t has capacity 0; it must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(testInv, planFile(t, tt.plan), registry(t, tt.kinds...))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err =\n  %v\nwant\n  %s", err, tt.want)
			}
		})
	}
}

func TestRegistryRefusesDuplicateKinds(t *testing.T) {
	_, err := NewRegistry(fakeKind{kind: "k"}, fakeKind{kind: "k"})
	if err == nil || !strings.Contains(err.Error(), `"k" registered twice`) {
		t.Fatalf("err = %v", err)
	}
}
