package homelab

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// ApplyOptions tune Up and Apply.
type ApplyOptions struct {
	// Clients are what the phases observe and apply through.
	Clients Clients
	// Replace names guests that may be rebuilt when a change cannot be
	// made in place.
	Replace []string
	// Kubeconfig is where the admin kubeconfig is written, instead of the
	// inventory's kubernetes.kubeconfig.
	Kubeconfig string
	// Parallelism is the most steps running at once (default 4).
	Parallelism int
	// StrictOrder runs the phases one after another instead of letting a
	// step start as soon as what it needs is done.
	StrictOrder bool
	// Sink receives the engine's events (views, journals); nil drops them.
	Sink engine.Sink
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

func (o ApplyOptions) engine() engine.Options {
	return engine.Options{Parallelism: o.Parallelism, StrictOrder: o.StrictOrder, Sink: o.Sink, Logger: o.Logger}
}

// Up makes a plan, observing the lab, and runs it: the disaster-recovery
// rebuild. Every step observes again just before it applies, so a re-run
// after a failure continues where the last one stopped. A conflict fails
// its step (homelab never changes what is not its own) and skips what
// needs it.
func Up(ctx context.Context, inv *inventory.Inventory, file *plan.File, opts ApplyOptions) (*plan.Plan, *engine.Result, error) {
	p, err := Plan(ctx, inv, file, PlanOptions{Clients: opts.Clients, Logger: opts.Logger, Replace: opts.Replace, Kubeconfig: opts.Kubeconfig})
	if err != nil {
		return nil, nil, err
	}
	res, err := Run(ctx, p, opts)
	return p, res, err
}

// Run runs a plan Plan made (with the same clients), for callers that
// show the plan or count its steps before running it. Up is Plan, then Run.
func Run(ctx context.Context, p *plan.Plan, opts ApplyOptions) (*engine.Result, error) {
	if p.Graph() == nil {
		return nil, fmt.Errorf("run: the plan has no step graph: use Apply for a saved plan")
	}
	return engine.Run(ctx, p.Graph(), opts.engine())
}

// StalePlanError is a saved plan that no longer describes what applying
// it would do: its inputs changed, or the lab did.
type StalePlanError struct {
	Reasons []string
}

func (e *StalePlanError) Error() string {
	return "the saved plan is stale, nothing was changed: " + strings.Join(e.Reasons, "; ") + "; make a new plan and review it"
}

// Apply runs exactly the saved plan (read with plan.LoadSaved, so that
// its paths lead to its files). It loads the inventory and plan file the
// plan names and refuses if either changed since, compiles and observes
// again, and refuses if any step would now do something other than what
// the plan showed: another action, other fields or other files. A plan
// saved offline showed every step as on an empty lab; it applies where
// the lab still says so, and is refused for each step where it does not.
func Apply(ctx context.Context, saved *plan.Plan, opts ApplyOptions) (*plan.Plan, *engine.Result, error) {
	inv, _, err := inventory.LoadContext(ctx, saved.Inventory.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("apply: %w", err)
	}
	var file *plan.File
	if saved.PlanFile.Builtin {
		file, err = plan.Builtin(saved.PlanFile.Name)
	} else {
		file, err = plan.LoadFile(saved.PlanFile.Path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("apply: %w", err)
	}
	var stale []string
	if inv.Source.Digest != saved.Inventory.Digest {
		stale = append(stale, fmt.Sprintf("the inventory %s changed", saved.Inventory.Path))
	}
	switch {
	case file.Digest == saved.PlanFile.Digest:
	case file.Builtin:
		stale = append(stale, fmt.Sprintf("the built-in plan %s of this homelab (%s) differs from the one the plan was made with (homelab %s)", file.Name, Version, saved.HomelabVersion))
	default:
		stale = append(stale, fmt.Sprintf("the plan file %s changed", saved.PlanFile.Path))
	}
	if len(stale) > 0 {
		return nil, nil, &StalePlanError{Reasons: stale}
	}
	// The guests a saved plan may rebuild are part of what was reviewed.
	if len(opts.Replace) > 0 && !slices.Equal(opts.Replace, saved.Replace) {
		return nil, nil, fmt.Errorf("apply: the saved plan may rebuild %s, not %s: make a new plan with plan --replace to change that",
			orNone(saved.Replace), strings.Join(opts.Replace, ", "))
	}
	p, err := Plan(ctx, inv, file, PlanOptions{Clients: opts.Clients, Logger: opts.Logger, Replace: saved.Replace, Kubeconfig: opts.Kubeconfig})
	if err != nil {
		return nil, nil, err
	}
	if reasons := differences(saved, p); len(reasons) > 0 {
		return p, nil, &StalePlanError{Reasons: reasons}
	}
	res, err := engine.Run(ctx, p.Graph(), opts.engine())
	return p, res, err
}

// differences lists the steps whose change differs between the saved plan
// and the plan made now: what a reviewer read (action, fields, files) is
// compared, not the wording of reasons.
func differences(saved, now *plan.Plan) []string {
	var out []string
	if len(saved.Steps) != len(now.Steps) {
		out = append(out, fmt.Sprintf("the plan had %d steps, it now has %d", len(saved.Steps), len(now.Steps)))
	}
	for _, s := range saved.Steps {
		n, ok := now.Step(s.ID)
		if !ok {
			out = append(out, fmt.Sprintf("step %s is gone", s.ID))
		} else if d := difference(s, n.Change); d != "" {
			out = append(out, d)
		}
		if len(out) >= 5 {
			return append(out, "…")
		}
	}
	return out
}

// difference says how the change observed now differs from the saved
// step's, or "" when it does not.
func difference(saved plan.Step, now step.Change) string {
	was := saved.Change
	as := ""
	if saved.ObservedDigest == "" {
		as = " (not observed: as on an empty lab)"
	}
	if was.Action != now.Action {
		return fmt.Sprintf("step %s was %s in the plan%s, the lab now says %s", saved.ID, actionName(was), as, actionName(now))
	}
	var what []string
	if !slices.Equal(was.Fields, now.Fields) {
		what = append(what, "fields "+strings.Join(changedFields(was.Fields, now.Fields), ", "))
	}
	if !slices.Equal(was.Files, now.Files) {
		what = append(what, "files")
	}
	if len(what) == 0 {
		return ""
	}
	return fmt.Sprintf("step %s is %s as in the plan%s, but the lab now gives other %s", saved.ID, actionName(now), as, strings.Join(what, " and "))
}

// changedFields names the fields that are not the same in a and b.
func changedFields(a, b []step.Field) []string {
	var names []string
	seen := map[string]bool{}
	for _, f := range append(slices.Clone(a), b...) {
		if seen[f.Name] {
			continue
		}
		seen[f.Name] = true
		fa, _ := fieldNamed(a, f.Name)
		fb, _ := fieldNamed(b, f.Name)
		if fa != fb {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		names = append(names, "(the same ones, in another order)")
	}
	return names
}

func fieldNamed(fields []step.Field, name string) (step.Field, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f, true
		}
	}
	return step.Field{}, false
}

// orNone lists names, or says there are none.
func orNone(names []string) string {
	if len(names) == 0 {
		return "no guest"
	}
	return strings.Join(names, ", ")
}

func actionName(c step.Change) string {
	return fmt.Sprintf("%s (%s)", c.Action.Name(), c.Action)
}

// KubeconfigPath is where a run with these options writes the admin
// kubeconfig of inv.
func (o ApplyOptions) KubeconfigPath(inv *inventory.Inventory) string {
	switch {
	case o.Kubeconfig != "":
		return o.Kubeconfig
	case o.Clients.Kubeconfig != "":
		return o.Clients.Kubeconfig
	case inv.Kubernetes != nil:
		return inv.Kubernetes.Kubeconfig
	}
	return ""
}
