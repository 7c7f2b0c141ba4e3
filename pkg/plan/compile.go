package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

// PhaseKind is a kind of phase a plan file can name. The packages that
// implement phases (network, guests, loadbalancers, kubernetes) provide
// one each; pkg/homelab registers them.
type PhaseKind interface {
	// Kind is the name plan files use, e.g. "guests".
	Kind() string
	// Description says what the phase does, for people.
	Description() string
	// Steps returns the phase's steps for the inventory. Their needs may
	// name steps of other phases by the IDs in pkg/step.
	Steps(inv *inventory.Inventory) ([]*step.Step, error)
}

// Registry holds the phase kinds plan files may name.
type Registry struct {
	kinds []PhaseKind
}

// NewRegistry returns a registry of the given phase kinds, which must have
// distinct names.
func NewRegistry(kinds ...PhaseKind) (*Registry, error) {
	seen := map[string]bool{}
	for _, k := range kinds {
		if seen[k.Kind()] {
			return nil, fmt.Errorf("phase kind %q registered twice", k.Kind())
		}
		seen[k.Kind()] = true
	}
	return &Registry{kinds: slices.Clone(kinds)}, nil
}

// Kinds returns the registered kinds' names, in registration order.
func (r *Registry) Kinds() []string {
	out := make([]string, len(r.kinds))
	for i, k := range r.kinds {
		out[i] = k.Kind()
	}
	return out
}

func (r *Registry) lookup(kind string) (PhaseKind, bool) {
	for _, k := range r.kinds {
		if k.Kind() == kind {
			return k, true
		}
	}
	return nil, false
}

// Compile turns an inventory and a plan file into a plan: the step graph
// of the plan's phases, with every step's change as on an empty lab (the
// step's intent). Observing the lab, when wanted, comes after.
//
// Every registered phase produces its steps, so that a need on a step of a
// phase the plan does not run is recognised: it becomes an assumption
// (shown in the plan) rather than an error. A need on a step of a phase the
// plan runs later is an error: the phases are out of order.
func Compile(inv *inventory.Inventory, file *File, reg *Registry) (*Plan, error) {
	var errs []error
	for _, ref := range file.Phases {
		if _, ok := reg.lookup(ref.Kind); !ok {
			errs = append(errs, &FileError{Path: file.Path, Line: ref.Line, Col: ref.Col, Field: "kind",
				Message: fmt.Sprintf("unknown phase kind %q (known: %s)", ref.Kind, strings.Join(reg.Kinds(), ", "))})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// owner maps every step of every registered kind to its kind.
	owner := map[step.ID]string{}
	byKind := map[string][]*step.Step{}
	for _, k := range reg.kinds {
		steps, err := k.Steps(inv)
		if err != nil {
			return nil, fmt.Errorf("phase kind %s: %w", k.Kind(), err)
		}
		for _, s := range steps {
			if prev, dup := owner[s.ID]; dup {
				return nil, fmt.Errorf("step %s: produced by phase kinds %s and %s", s.ID, prev, k.Kind())
			}
			owner[s.ID] = k.Kind()
		}
		byKind[k.Kind()] = steps
	}

	position := map[string]int{}
	for i, ref := range file.Phases {
		position[ref.Kind] = i
	}
	p := &Plan{
		FormatVersion: FormatVersion,
		Inventory:     Source{Name: inv.Name, Path: inv.Source.Path, Digest: inv.Source.Digest},
		PlanFile:      Source{Name: file.Name, Path: file.Path, Builtin: file.Builtin, Digest: file.Digest},
	}
	var graphSteps []*step.Step
	for i, ref := range file.Phases {
		kind, _ := reg.lookup(ref.Kind)
		phase := Phase{Name: ref.Name, Kind: ref.Kind, Description: kind.Description()}
		for _, src := range byKind[ref.Kind] {
			s := *src
			s.Phase = ref.Name
			s.Needs = nil
			var assumes []step.ID
			for _, need := range src.Needs {
				needKind, known := owner[need]
				at, inPlan := position[needKind]
				switch {
				case !known:
					return nil, fmt.Errorf("step %s: needs %s, which no phase kind produces", src.ID, need)
				case !inPlan:
					assumes = append(assumes, need)
				case at > i:
					return nil, &FileError{Path: file.Path, Line: ref.Line, Col: ref.Col, Field: "phases",
						Message: fmt.Sprintf("phase %q needs phase %q (%s needs %s), but the plan orders it before: move %q above %q",
							ref.Name, file.Phases[at].Name, src.ID, need, file.Phases[at].Name, ref.Name)}
				default:
					s.Needs = append(s.Needs, need)
				}
			}
			graphSteps = append(graphSteps, &s)
			phase.Steps = append(phase.Steps, s.ID)
			p.Steps = append(p.Steps, Step{
				ID: s.ID, Phase: s.Phase, Description: s.Description,
				Needs: s.Needs, Assumes: assumes, Locks: s.Locks, Change: s.Intent,
			})
		}
		p.Phases = append(p.Phases, phase)
	}
	if err := checkLocks(graphSteps); err != nil {
		return nil, err
	}
	g, err := step.NewGraph(graphSteps)
	if err != nil {
		return nil, fmt.Errorf("compile plan %s: %w", file.Name, err)
	}
	p.graph = g
	return p, nil
}

// checkLocks refuses a lock key that steps declare with different capacities.
func checkLocks(steps []*step.Step) error {
	type declared struct {
		by       step.ID
		capacity int
	}
	first := map[string]declared{}
	for _, s := range steps {
		for _, l := range s.Locks {
			if l.Capacity < 1 {
				return fmt.Errorf("step %s: lock %s has capacity %d; it must be at least 1", s.ID, l.Key, l.Capacity)
			}
			d, ok := first[l.Key]
			if !ok {
				first[l.Key] = declared{by: s.ID, capacity: l.Capacity}
				continue
			}
			if d.capacity != l.Capacity {
				return fmt.Errorf("lock %s: step %s says capacity %d, step %s says %d", l.Key, d.by, d.capacity, s.ID, l.Capacity)
			}
		}
	}
	return nil
}
