package plan

import (
	"errors"
	"fmt"

	"github.com/homelabctl/homelab/pkg/step"
)

// UnknownTargetError is a target that is not a step of the plan.
type UnknownTargetError struct {
	Target step.ID
}

func (e *UnknownTargetError) Error() string {
	return fmt.Sprintf("target %s: not a step of this plan", e.Target)
}

// Targeted narrows the plan to the target steps and every step they need,
// directly or not, as Terraform's -target does: the result is a partial
// plan, with the phases that keep a step, in the same order. Its changes
// are those p observed. p is not changed.
func (p *Plan) Targeted(targets []step.ID) (*Plan, error) {
	if p.graph == nil {
		return nil, errors.New("target: the plan has no step graph (a saved plan must be compiled again)")
	}
	if len(targets) == 0 {
		return nil, errors.New("target: no step named")
	}
	keep := map[step.ID]bool{}
	var visit func(id step.ID)
	visit = func(id step.ID) {
		if keep[id] {
			return
		}
		keep[id] = true
		s, _ := p.graph.Step(id)
		for _, need := range s.Needs {
			visit(need)
		}
	}
	for _, id := range targets {
		if _, ok := p.graph.Step(id); !ok {
			return nil, &UnknownTargetError{Target: id}
		}
		visit(id)
	}
	q := &Plan{FormatVersion: p.FormatVersion, Inventory: p.Inventory, PlanFile: p.PlanFile, Observed: p.Observed}
	for _, s := range p.Steps {
		if keep[s.ID] {
			q.Steps = append(q.Steps, s)
		}
	}
	for _, ph := range p.Phases {
		var ids []step.ID
		for _, id := range ph.Steps {
			if keep[id] {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			ph.Steps = ids
			q.Phases = append(q.Phases, ph)
		}
	}
	var steps []*step.Step
	for _, s := range p.graph.Steps() {
		if keep[s.ID] {
			steps = append(steps, s)
		}
	}
	g, err := step.NewGraph(steps)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	q.graph = g
	return q, nil
}
