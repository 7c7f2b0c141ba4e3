package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/internal/view"
	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// runFlags are the flags of the commands that change the lab.
type runFlags struct {
	output      string
	parallelism int
	strictOrder bool
	replace     []string
	restore     string
	t           target
}

func addRunFlags(cmd *cobra.Command, f *runFlags) {
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "text", "progress: text (timestamped lines) or json (one event per line)")
	fl.IntVar(&f.parallelism, "parallel", 4, "most steps running at once")
	fl.BoolVar(&f.strictOrder, "strict-order", false, "run the phases one after another")
	fl.StringSliceVar(&f.replace, "replace", nil, "guests that may be rebuilt when a change cannot be made in place")
	addKubeconfigFlag(cmd, &f.t)
	fl.BoolVar(&f.t.simulate, "simulate", false, "run against the simulated lab (loopback only, kept in .homelab/<inventory>/simulated-lab/) instead of the real one")
}

func (f runFlags) options(g *globals, clients homelab.Clients, journal io.Writer) (homelab.ApplyOptions, error) {
	var sink engine.Sink
	switch f.output {
	case "text":
		sink = &view.Plain{W: g.stdout}
		if g.terminal(g.stdout) {
			sink = &view.Live{W: g.stdout, Color: g.color(g.stdout)}
		}
	case "json":
		sink = view.JSON{W: g.stdout}
	default:
		return homelab.ApplyOptions{}, &usageError{fmt.Errorf("-o %s: want text or json", f.output)}
	}
	if journal != nil {
		sink = view.Tee{sink, view.JSON{W: journal}}
	}
	return homelab.ApplyOptions{Clients: clients, Replace: f.replace, Kubeconfig: f.t.kubeconfig, Parallelism: f.parallelism, StrictOrder: f.strictOrder, Sink: sink, Logger: g.logger()}, nil
}

// startRun takes the run lock and journal (real labs), makes the clients
// and the run's options; end releases them all.
func (g *globals) startRun(ctx context.Context, inv *inventory.Inventory, command string, f runFlags) (homelab.ApplyOptions, func(), error) {
	journal, unlock, err := g.begin(inv, command, f.t)
	if err != nil {
		return homelab.ApplyOptions{}, nil, err
	}
	clients, done, err := g.clients(ctx, inv, f.t)
	if err != nil {
		unlock()
		return homelab.ApplyOptions{}, nil, err
	}
	opts, err := f.options(g, clients, journal)
	if err != nil {
		done()
		unlock()
		return homelab.ApplyOptions{}, nil, err
	}
	return opts, func() { done(); unlock() }, nil
}

// begin takes the run lock of a real lab and opens its run journal; a
// simulated lab has its own lock (Simulate takes it) and no journal.
func (g *globals) begin(inv *inventory.Inventory, command string, t target) (journal io.Writer, end func(), err error) {
	return g.beginRun(inv, command, t, true)
}

func (g *globals) beginRun(inv *inventory.Inventory, command string, t target, withJournal bool) (journal io.Writer, end func(), err error) {
	if t.simulate {
		return nil, func() {}, nil
	}
	dir := homelab.StateDir(g.inventory, inv.Name)
	lock, err := homelab.Lock(dir, command)
	if err != nil {
		return nil, nil, err
	}
	if !withJournal {
		return nil, func() { lock.Unlock() }, nil
	}
	f, err := homelab.Journal(dir, command)
	if err != nil {
		lock.Unlock()
		return nil, nil, err
	}
	return f, func() {
		f.Close()
		lock.Unlock()
		fmt.Fprintf(g.stderr, "Run journal: %s\n", f.Name())
	}, nil
}

func newUpCommand(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Plan and build the lab: the disaster-recovery rebuild",
		Long: `up makes the plan (reading the lab) and runs it: each step observes again and
changes only what differs, so a re-run after a failure carries on where the
last one stopped, and a run on a built lab changes nothing. A conflict (an
object homelab does not own in the way) fails its step; homelab never
changes what is not its own. --replace NAME allows rebuilding a guest whose
change cannot be made in place.

--simulate runs against the simulated lab instead of the real one: the
router, the Proxmox cluster and every guest simulated in-process on
loopback. It keeps its state in .homelab/<inventory>/simulated-lab/ beside
the inventory, so a second "up --simulate" changes nothing; "homelab sim
reset" starts it over.`,
		Example: `  homelab up -i inventories/rachuna-net.yaml --simulate
  homelab up -i inventories/rachuna-net.yaml -p plans/network.yaml
  homelab up -i inventories/small.yaml -o json > run.jsonl`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, err := g.load(cmd.Context())
			if err != nil {
				return err
			}
			file, err := plan.LoadFile(g.plan)
			if err != nil {
				return err
			}
			var restore *backup.Backup
			if f.restore != "" {
				// Checked before the lab is touched: a corrupt or foreign
				// backup stops the run here.
				if restore, err = homelab.OpenBackup(inv, f.restore); err != nil {
					return err
				}
			}
			opts, end, err := g.startRun(cmd.Context(), inv, "up", f)
			if err != nil {
				return err
			}
			defer end()
			clients := opts.Clients
			begin := time.Now()
			p, err := homelab.Plan(cmd.Context(), inv, file, homelab.PlanOptions{Clients: clients, Logger: opts.Logger, Replace: opts.Replace, Kubeconfig: opts.Kubeconfig, Restore: restore})
			if err != nil {
				return err
			}
			stop := live(opts.Sink, len(p.Steps))
			res, err := homelab.Run(cmd.Context(), p, opts)
			stop()
			if err == nil && f.output == "text" {
				defer view.Endpoints(g.stdout, inv, opts.KubeconfigPath(inv))
			}
			return finish(g.stdout, p, res, err, time.Since(begin), f.output)
		},
	}
	addPlanFlag(cmd, g)
	addRunFlags(cmd, &f)
	cmd.Flags().StringVar(&f.restore, "restore", "", "restore the cluster from the backup in DIR (homelab backup): the first control plane is initialised with its PKI and etcd data")
	return cmd
}

func newApplyCommand(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "apply PLAN.json",
		Short: "Run exactly a plan saved with plan --out",
		Long: `apply runs a saved plan. It refuses, changing nothing, when the inventory or
the plan file changed since the plan was made, or when observing the lab
now gives a different change for any step than the plan showed: review a
new plan instead.`,
		Example: `  homelab plan -i inventories/small.yaml --out plan.json
  homelab apply plan.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := os.Open(args[0])
			if err != nil {
				return err
			}
			saved, err := plan.ReadSaved(r)
			r.Close()
			if err != nil {
				return err
			}
			g.inventory = saved.Inventory.Path
			inv, err := g.load(cmd.Context())
			if err != nil {
				return err
			}
			opts, end, err := g.startRun(cmd.Context(), inv, "apply", f)
			if err != nil {
				return err
			}
			defer end()
			begin := time.Now()
			p, res, err := homelab.Apply(cmd.Context(), saved, opts)
			return finish(g.stdout, p, res, err, time.Since(begin), f.output)
		},
	}
	addRunFlags(cmd, &f)
	return cmd
}

// live starts the live view's redraws, if the run shows one.
func live(sink engine.Sink, total int) (stop func()) {
	for _, s := range teeOf(sink) {
		if l, ok := s.(*view.Live); ok {
			l.Total = total
			l.Start(time.Second)
			return l.Stop
		}
	}
	return func() {}
}

func teeOf(sink engine.Sink) []engine.Sink {
	if t, ok := sink.(view.Tee); ok {
		return t
	}
	return []engine.Sink{sink}
}

// finish writes the summary of a run (text output only) and returns its
// error.
func finish(w io.Writer, p *plan.Plan, res *engine.Result, err error, took time.Duration, output string) error {
	if res != nil && output == "text" {
		phases := make([]string, len(p.Phases))
		for i, ph := range p.Phases {
			phases[i] = ph.Name
		}
		phaseOf := make(map[step.ID]string, len(p.Steps))
		for _, s := range p.Steps {
			phaseOf[s.ID] = s.Phase
		}
		view.Summary(w, phases, phaseOf, res, took)
	}
	return err
}
