package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/internal/view"
	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeadm"
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
	noBackup    bool
	targets     []string
	t           target
}

func addRunFlags(cmd *cobra.Command, f *runFlags) {
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "text", "progress: text (timestamped lines) or json (one event per line)")
	fl.IntVar(&f.parallelism, "parallel", 0, "most steps running at once (default: from the lab, see docs/performance.md)")
	fl.BoolVar(&f.strictOrder, "strict-order", false, "run the phases one after another")
	fl.StringSliceVar(&f.replace, "replace", nil, "guests that may be rebuilt when a change cannot be made in place")
	fl.BoolVar(&f.noBackup, "no-backup", false, "do not back the cluster up before a control-plane guest is replaced")
	addKubeconfigFlag(cmd, &f.t)
	fl.BoolVar(&f.t.simulate, "simulate", false, "run against the simulated lab (loopback only, kept in .homelab/<inventory>/simulated-lab/) instead of the real one")
}

func (f runFlags) options(g *globals, clients homelab.Clients, journal io.Writer) (homelab.ApplyOptions, error) {
	var sink engine.Sink
	switch f.output {
	case "text":
		sink = &view.Plain{W: g.stdout}
		if g.escapes(g.stdout) {
			sink = &view.Live{W: g.stdout, Color: true}
		}
	case "json":
		sink = view.JSON{W: g.stdout}
	default:
		return homelab.ApplyOptions{}, &usageError{fmt.Errorf("-o %s: want text or json", f.output)}
	}
	if journal != nil {
		sink = view.Tee{sink, view.JSON{W: journal}}
	}
	return homelab.ApplyOptions{Clients: clients, Replace: f.replace, NoBackup: f.noBackup, Kubeconfig: f.t.kubeconfig, Parallelism: f.parallelism, StrictOrder: f.strictOrder, Sink: sink, Logger: g.logger()}, nil
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
	if opts.Parallelism <= 0 {
		opts.Parallelism = homelab.DefaultParallelism(inv)
	}
	return opts, func() { done(); unlock() }, nil
}

// begin takes the run lock of a real lab and opens its run journal; a
// simulated lab has its own lock (simlab.Start takes it) and no journal.
func (g *globals) begin(inv *inventory.Inventory, command string, t target) (journal io.Writer, end func(), err error) {
	return g.beginRun(inv, command, t, true)
}

// openLab is what down, adopt and backup begin with: the inventory, the
// lab's run lock for command (not for the simulated lab), and the clients
// of the lab t names. close releases both.
func (g *globals) openLab(ctx context.Context, command string, t target) (inv *inventory.Inventory, c homelab.Clients, close func(), err error) {
	if inv, err = g.load(ctx); err != nil {
		return nil, c, nil, err
	}
	_, end, err := g.beginRun(inv, command, t, false)
	if err != nil {
		return nil, c, nil, err
	}
	c, done, err := g.clients(ctx, inv, t)
	if err != nil {
		end()
		return nil, c, nil, err
	}
	return inv, c, func() { done(); end() }, nil
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

Before it replaces a control-plane guest of a Kubernetes cluster, up backs
the cluster up (what "homelab backup" takes) into a new directory under
kubernetes.backup_dir and says where; the replace fails, deleting nothing,
if that backup fails, or if the cluster answers and no backup_dir is set.
When no control plane answers there is nothing to back up and the run goes
on. The plan shows it (BACKUP); --no-backup takes none.

--simulate runs against the simulated lab instead of the real one: the
router, the Proxmox cluster and every guest simulated in-process on
loopback. It keeps its state in .homelab/<inventory>/simulated-lab/ beside
the inventory, so a second "up --simulate" changes nothing; "homelab sim
reset" starts it over.`,
		Example: `  homelab up -i inventories/rachuna-net.yaml --simulate
  homelab up -i inventories/rachuna-net.yaml -p plans/network.yaml
  homelab up -i inventories/small.yaml -o json > run.jsonl
  homelab up -i inventories/small.yaml --simulate --target guest/lb-1  # one step and what it needs`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, err := g.load(cmd.Context())
			if err != nil {
				return err
			}
			file, err := plan.Open(g.plan)
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
			begin := time.Now()
			po := opts.PlanOptions()
			po.Restore = restore
			p, err := homelab.Plan(cmd.Context(), inv, file, po)
			if err != nil {
				return err
			}
			if p, err = g.narrow(inv, p, f.targets); err != nil {
				return err
			}
			if p.Backup != nil && f.output == "text" {
				fmt.Fprintln(g.stdout, p.Backup.Note())
			}
			stop := live(opts.Sink, len(p.Steps))
			res, err := homelab.Run(cmd.Context(), p, opts.RunOptions())
			stop()
			if (err == nil || errors.As(err, new(*homelab.DegradedError))) && f.output == "text" {
				defer view.Endpoints(g.stdout, inv, opts.KubeconfigPath(inv), built(res))
			}
			return finish(g.stdout, p, res, err, time.Since(begin), f.output)
		},
	}
	addPlanFlag(cmd, g)
	addRunFlags(cmd, &f)
	cmd.Flags().StringVar(&f.restore, "restore", "", "restore the cluster from the backup in DIR (homelab backup): the first control plane is initialised with its PKI and etcd data")
	addTargetFlag(cmd, &f.targets)
	return cmd
}

func newApplyCommand(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "apply PLAN.json",
		Short: "Run exactly a plan saved with plan --out",
		Long: `apply runs a saved plan, from any directory: the plan names its inventory
relative to itself. It refuses, changing nothing, when the inventory or the
plan file changed since the plan was made, or when observing the lab now
gives a different change for any step than the plan showed (another action,
other fields or files), naming each such step: review a new plan instead. A
plan saved with --offline shows the lab as empty: it applies where the lab
still is. A plan that replaces a control-plane guest backs the cluster up
first, as up does (its BACKUP line); a plan saved with --no-backup, or apply
--no-backup, takes no backup.`,
		Example: `  homelab plan -i inventories/small.yaml --out plan.json
  homelab apply plan.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			saved, err := plan.LoadSaved(args[0])
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

// built says which endpoints a run brought up: a VIP once its gate
// passed, the Kubernetes API once it answered on the endpoint name on the
// VIP, the admin kubeconfig once written.
func built(res *engine.Result) view.Built {
	b := view.Built{VIPs: map[string]bool{}}
	if res == nil {
		return b
	}
	for _, s := range res.Steps {
		if s.Status != engine.Done {
			continue
		}
		if vip, ok := strings.CutPrefix(string(s.ID), string(step.VIPGateID(""))); ok {
			b.VIPs[vip] = true
		}
		switch s.ID {
		case kubeadm.GateEndpoint:
			b.KubernetesAPI = true
		case kubeadm.Kubeconfig:
			b.Kubeconfig = true
		}
	}
	return b
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

// finish writes the summary of a run (the summary block in text, a last
// summary line in JSON) and returns its error.
func finish(w io.Writer, p *plan.Plan, res *engine.Result, err error, took time.Duration, output string) error {
	if res == nil {
		return err
	}
	phases := make([]string, len(p.Phases))
	for i, ph := range p.Phases {
		phases[i] = ph.Name
	}
	phaseOf := make(map[step.ID]string, len(p.Steps))
	for _, s := range p.Steps {
		phaseOf[s.ID] = s.Phase
	}
	switch output {
	case "text":
		view.Summary(w, phases, phaseOf, res, took)
	case "json":
		if werr := view.Summarise(phases, phaseOf, res, took, time.Now(), err != nil).WriteJSON(w); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}
