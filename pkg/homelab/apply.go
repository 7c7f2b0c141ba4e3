package homelab

import (
	"context"
	"errors"
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
	// Parallelism is the most steps running at once; 0 means
	// DefaultParallelism of the inventory (Up, Apply), or 4 (Run).
	Parallelism int
	// StrictOrder runs the phases one after another instead of letting a
	// step start as soon as what it needs is done.
	StrictOrder bool
	// Sink receives the engine's events (views, journals); nil drops them.
	Sink engine.Sink
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Restore is a backup directory the cluster is restored from (`up
	// --restore`): opened and checked (OpenBackup) before anything is
	// observed or changed.
	Restore string
	// NoBackup: no backup of the cluster before control-plane guests are
	// replaced (see PlanOptions.NoBackup). Apply also takes none when the
	// saved plan was made with NoBackup.
	NoBackup bool
}

// RunOptions tune Run: how the steps of a plan run. What the steps were
// made with (the clients, the guests that may be rebuilt, the kubeconfig
// path) is Plan's to say (PlanOptions), and a plan keeps it: Run takes
// nothing that it could not honour.
type RunOptions struct {
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

// PlanOptions are the options of o that make a plan (observing the lab).
func (o ApplyOptions) PlanOptions() PlanOptions {
	return PlanOptions{Clients: o.Clients, Logger: o.Logger, Replace: o.Replace, Kubeconfig: o.Kubeconfig, NoBackup: o.NoBackup}
}

// RunOptions are the options of o that run a plan.
func (o ApplyOptions) RunOptions() RunOptions {
	return RunOptions{Parallelism: o.Parallelism, StrictOrder: o.StrictOrder, Sink: o.Sink, Logger: o.Logger}
}

func (o RunOptions) engine() engine.Options {
	return engine.Options{Parallelism: o.Parallelism, StrictOrder: o.StrictOrder, Sink: o.Sink, Logger: o.Logger}
}

// Up makes a plan, observing the lab, and runs it: the disaster-recovery
// rebuild. A step that writes observes again just before it applies, so a
// re-run after a failure continues where the last one stopped; a step the
// plan found with nothing to write reuses the plan's observation (see
// engine.Options.Observed), so a converged re-run reads each object once.
// A conflict fails its step (homelab never changes what is not its own)
// and skips what needs it. With a Proxmox node offline, the guests it
// holds are skipped, the rest is built, and a run that otherwise succeeds
// returns a *DegradedError naming what is missing. Parallelism 0 is
// DefaultParallelism of the inventory.
func Up(ctx context.Context, inv *inventory.Inventory, file *plan.File, opts ApplyOptions) (*plan.Plan, *engine.Result, error) {
	po := opts.PlanOptions()
	if opts.Restore != "" {
		b, err := OpenBackup(inv, opts.Restore)
		if err != nil {
			return nil, nil, err
		}
		po.Restore = b
	}
	p, err := Plan(ctx, inv, file, po)
	if err != nil {
		return nil, nil, err
	}
	ro := opts.RunOptions()
	if ro.Parallelism <= 0 {
		ro.Parallelism = DefaultParallelism(inv)
	}
	res, err := Run(ctx, p, ro)
	return p, res, err
}

// ErrNoGraph is Run's error for a plan without its steps: one read back
// from JSON (plan.ReadSaved), which Apply runs instead.
var ErrNoGraph = errors.New("the plan has no step graph (a saved plan read back): use Apply")

// Run runs a plan Plan made, through the clients Plan was given and with
// the replacements and kubeconfig path it was given, for callers that
// show the plan or count its steps before running it. Up is Plan, then
// Run.
func Run(ctx context.Context, p *plan.Plan, opts RunOptions) (*engine.Result, error) {
	if p.Graph() == nil {
		return nil, fmt.Errorf("run: %w", ErrNoGraph)
	}
	eo := opts.engine()
	eo.Observed = p.Observations()
	res, err := engine.Run(ctx, p.Graph(), eo)
	return res, degraded(p, res, err)
}

// StalePlanError is a saved plan that no longer describes what applying
// it would do: its inputs changed, or the lab did. Nothing was changed.
type StalePlanError struct {
	// Inputs are the files the plan was made from that changed since:
	// the inventory's path, the plan file's path.
	Inputs []string
	// Steps are the steps whose change differs from the one the plan
	// showed, in the plan's order, then the steps the plan did not have.
	Steps []StaleStep
	// Reasons say all of it in words, as Error lists them (the first few
	// steps, then "…").
	Reasons []string
}

// StaleStep is one step of a saved plan that would now do something other
// than what the plan showed.
type StaleStep struct {
	ID step.ID
	// Saved is the change the plan showed, nil for a step the plan did
	// not have; Now is the change observed now, nil for a step that is
	// gone.
	Saved, Now *step.Change
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
	stale := &StalePlanError{}
	if inv.Source.Digest != saved.Inventory.Digest {
		stale.Inputs = append(stale.Inputs, saved.Inventory.Path)
		stale.Reasons = append(stale.Reasons, fmt.Sprintf("the inventory %s changed", saved.Inventory.Path))
	}
	switch {
	case file.Digest == saved.PlanFile.Digest:
	case file.Builtin:
		stale.Inputs = append(stale.Inputs, file.Name)
		stale.Reasons = append(stale.Reasons, fmt.Sprintf("the built-in plan %s of this homelab (%s) differs from the one the plan was made with (homelab %s)", file.Name, Version, saved.HomelabVersion))
	default:
		stale.Inputs = append(stale.Inputs, saved.PlanFile.Path)
		stale.Reasons = append(stale.Reasons, fmt.Sprintf("the plan file %s changed", saved.PlanFile.Path))
	}
	if len(stale.Inputs) > 0 {
		return nil, nil, stale
	}
	// The guests a saved plan may rebuild are part of what was reviewed.
	if len(opts.Replace) > 0 && !slices.Equal(opts.Replace, saved.Replace) {
		return nil, nil, fmt.Errorf("apply: the saved plan may rebuild %s, not %s: make a new plan with plan --replace to change that",
			orNone(saved.Replace), strings.Join(opts.Replace, ", "))
	}
	popts := opts.PlanOptions()
	popts.Replace = saved.Replace
	if saved.Backup != nil && saved.Backup.OptedOut {
		popts.NoBackup = true
	}
	p, err := Plan(ctx, inv, file, popts)
	if err != nil {
		return nil, nil, err
	}
	if stale := differences(saved, p); stale != nil {
		return p, nil, stale
	}
	ro := opts.RunOptions()
	if ro.Parallelism <= 0 {
		ro.Parallelism = DefaultParallelism(inv)
	}
	res, err := Run(ctx, p, ro)
	return p, res, err
}

// differences is the refusal of a saved plan whose steps' changes differ
// from the plan made now, or nil when none does: what a reviewer read
// (action, fields, files) is compared, not the wording of reasons.
func differences(saved, now *plan.Plan) *StalePlanError {
	e := &StalePlanError{}
	var reasons []string
	for _, s := range saved.Steps {
		n, ok := now.Step(s.ID)
		if !ok {
			e.Steps = append(e.Steps, StaleStep{ID: s.ID, Saved: &s.Change})
			reasons = append(reasons, fmt.Sprintf("step %s is gone", s.ID))
		} else if d := difference(s, n.Change); d != "" {
			e.Steps = append(e.Steps, StaleStep{ID: s.ID, Saved: &s.Change, Now: &n.Change})
			reasons = append(reasons, d)
		}
	}
	for _, n := range now.Steps {
		if _, ok := saved.Step(n.ID); !ok {
			e.Steps = append(e.Steps, StaleStep{ID: n.ID, Now: &n.Change})
			reasons = append(reasons, fmt.Sprintf("step %s is new: %s", n.ID, actionName(n.Change)))
		}
	}
	if len(e.Steps) == 0 && len(saved.Steps) == len(now.Steps) {
		return nil
	}
	if len(saved.Steps) != len(now.Steps) {
		e.Reasons = append(e.Reasons, fmt.Sprintf("the plan had %d steps, it now has %d", len(saved.Steps), len(now.Steps)))
	}
	for _, r := range reasons {
		if len(e.Reasons) >= 5 {
			e.Reasons = append(e.Reasons, "…")
			break
		}
		e.Reasons = append(e.Reasons, r)
	}
	return e
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
