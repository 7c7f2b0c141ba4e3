package homelab

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/homelabctl/homelab/pkg/backup"
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
	// Restore is a backup directory the cluster is restored from (`up
	// --restore`): opened and checked (OpenBackup) before anything is
	// observed or changed.
	Restore string
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
	var restore *backup.Backup
	if opts.Restore != "" {
		b, err := OpenBackup(inv, opts.Restore)
		if err != nil {
			return nil, nil, err
		}
		restore = b
	}
	p, err := Plan(ctx, inv, file, PlanOptions{Clients: opts.Clients, Logger: opts.Logger, Replace: opts.Replace, Kubeconfig: opts.Kubeconfig, Restore: restore})
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

// Apply runs exactly the saved plan. It loads the inventory and plan file
// the plan names and refuses if either changed since, compiles and
// observes again, and refuses if any step would now do something other
// than what the plan showed.
func Apply(ctx context.Context, saved *plan.Plan, opts ApplyOptions) (*plan.Plan, *engine.Result, error) {
	inv, _, err := inventory.LoadContext(ctx, saved.Inventory.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("apply: %w", err)
	}
	file, err := plan.LoadFile(saved.PlanFile.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("apply: %w", err)
	}
	var stale []string
	if inv.Source.Digest != saved.Inventory.Digest {
		stale = append(stale, fmt.Sprintf("the inventory %s changed", saved.Inventory.Path))
	}
	if file.Digest != saved.PlanFile.Digest {
		stale = append(stale, fmt.Sprintf("the plan file %s changed", saved.PlanFile.Path))
	}
	if len(stale) > 0 {
		return nil, nil, &StalePlanError{Reasons: stale}
	}
	p, err := Plan(ctx, inv, file, PlanOptions{Clients: opts.Clients, Logger: opts.Logger, Replace: opts.Replace, Kubeconfig: opts.Kubeconfig})
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
// and the plan made now.
func differences(saved, now *plan.Plan) []string {
	var out []string
	if len(saved.Steps) != len(now.Steps) {
		out = append(out, fmt.Sprintf("the plan had %d steps, it now has %d", len(saved.Steps), len(now.Steps)))
	}
	for _, s := range saved.Steps {
		n, ok := now.Step(s.ID)
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("step %s is gone", s.ID))
		case s.ObservedDigest != n.ObservedDigest:
			out = append(out, fmt.Sprintf("step %s was %s, the lab now says %s", s.ID, actionName(s.Change), actionName(n.Change)))
		}
		if len(out) >= 5 {
			return append(out, "…")
		}
	}
	return out
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
