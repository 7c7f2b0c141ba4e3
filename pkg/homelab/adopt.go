package homelab

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// Adoption is one object homelab adopt found: a guest or router row that
// matches a step of the plan by identity but carries no homelab mark
// (Change.Action Update, its Fields the mark), or one that clashes with a
// step without matching it (Conflict, with the reason).
type Adoption struct {
	Step        step.ID
	Phase       string
	Description string
	Change      step.Change

	work step.Adopter
}

// Adoptable reports whether the object can be marked as homelab's.
func (a Adoption) Adoptable() bool { return a.Change.Action == step.Update }

// AdoptConflictError ends an adopt that left conflicts: objects that
// clash with the inventory without matching it by identity. homelab
// changed none of them.
type AdoptConflictError struct {
	Conflicts []Adoption
}

func (e *AdoptConflictError) Error() string {
	var parts []string
	for _, c := range e.Conflicts {
		parts = append(parts, fmt.Sprintf("%s: %s", c.Step, c.Change.Reason))
	}
	return fmt.Sprintf("%d object(s) stay conflicts, not adopted: %s", len(e.Conflicts), strings.Join(parts, "; "))
}

// AdoptPlan reads the lab (read only) for the steps of the plan file
// whose objects can be adopted (guests on Proxmox, rows on the router)
// and returns, in plan order, those that can be adopted and those that
// stay conflicts. Objects that are absent or already homelab's are left
// out. Guests on offline Proxmox nodes are not read.
func AdoptPlan(ctx context.Context, inv *inventory.Inventory, file *plan.File, c Clients) ([]Adoption, error) {
	reg, err := plan.NewRegistry(phases(c, runOptions{})...)
	if err != nil {
		return nil, err
	}
	p, err := plan.Compile(inv, file, reg)
	if err != nil {
		return nil, err
	}
	if c.Proxmox != nil {
		unreach, err := unreachable(ctx, inv, c.Proxmox)
		if err != nil {
			return nil, fmt.Errorf("adopt: %w", err)
		}
		skipUnreachable(p, unreach)
	}
	var out []Adoption
	for _, s := range p.Graph().Steps() {
		work, ok := s.Work.(step.Adopter)
		if !ok {
			continue
		}
		change, err := work.ObserveAdopt(ctx)
		if err != nil {
			return nil, fmt.Errorf("adopt: step %s: %w", s.ID, err)
		}
		if change.Action == step.Update || change.Action == step.Conflict {
			out = append(out, Adoption{Step: s.ID, Phase: s.Phase, Description: s.Description, Change: change, work: work})
		}
	}
	return out, nil
}

// Adopt marks every adoptable object of adoptions as homelab's (each
// observed again first) and nothing else: the homelab tag and the
// description's first line on a guest, the homelab:<inventory>:<step>
// comment on a router row. Lines of what it did go to out. When
// conflicts remain, it returns an *AdoptConflictError after marking the
// rest.
func Adopt(ctx context.Context, adoptions []Adoption, out io.Writer) error {
	var conflicts []Adoption
	for _, a := range adoptions {
		if !a.Adoptable() {
			conflicts = append(conflicts, a)
			continue
		}
		if err := a.work.Adopt(ctx, out); err != nil {
			return fmt.Errorf("adopt %s: %w", a.Step, err)
		}
	}
	if len(conflicts) > 0 {
		return &AdoptConflictError{Conflicts: conflicts}
	}
	return nil
}
