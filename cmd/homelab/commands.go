package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/simlab"
	"github.com/homelabctl/homelab/plans"
)

// globals are the flags every command shares.
type globals struct {
	inventory string
	plan      string
	verbose   bool
	noColor   bool
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
}

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "homelab",
		Short: "Rebuild a homelab from one inventory file",
		Long: `homelab rebuilds a whole homelab from code: Proxmox VE guests, a MikroTik
router's VLANs, DHCP and DNS, HAProxy + keepalived holding VIPs, and a kubeadm
cluster behind the VIP.

An inventory (inventories/*.yaml) says what the lab is; a plan file
(plans/*.yaml) says which phases run and in what order.`,
		Example: `  # Check an inventory and see every problem with its line and column
  homelab validate -i inventories/rachuna-net.yaml

  # Review what a full build would do, without touching the lab
  homelab plan -i inventories/rachuna-net.yaml --offline

  # The same plan as Markdown for a merge request
  homelab plan -i inventories/rachuna-net.yaml --offline -o markdown > plan.md`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          usageArgs(cobra.NoArgs),
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVarP(&g.inventory, "inventory", "i", os.Getenv("HOMELAB_INVENTORY"), "inventory file (default $HOMELAB_INVENTORY)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "write debug logs to stderr")
	pf.BoolVar(&g.noColor, "no-color", false, "plain output: no colours, no redrawn progress (also when NO_COLOR is set, TERM=dumb or output is not a terminal)")
	root.AddCommand(newValidateCommand(g), newPlanCommand(g), newGraphCommand(g), newUpCommand(g), newApplyCommand(g), newStatusCommand(g), newShowCommand(g), newSchemaCommand(g), newDownCommand(g), newBackupCommand(g), newAdoptCommand(g), newSimCommand(g), newVersionCommand(g))
	registerCompletions(root, g)
	return root
}

func (g *globals) logger() *slog.Logger {
	if !g.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// color reports whether output to w may use ANSI colours.
func (g *globals) color(w io.Writer) bool {
	return g.escapes(w)
}

// escapes reports whether output to w may use escape codes at all: the
// live view's redrawn block and colours.
func (g *globals) escapes(w io.Writer) bool {
	return escapesFor(g.terminal(w), g.noColor, os.Getenv)
}

// escapesFor is escapes' rule: only a terminal that is not TERM=dumb, and
// neither --no-color nor NO_COLOR (https://no-color.org) asks for plain
// output; then the output has no escape codes, colours or cursor moves.
func escapesFor(terminal, noColor bool, getenv func(string) string) bool {
	return terminal && !noColor && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

// terminal reports whether w is a terminal.
func (g *globals) terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// load reads the inventory and prints its warnings (at most
// inventory.MaxShown, and a count of the rest).
func (g *globals) load(ctx context.Context) (*inventory.Inventory, error) {
	if g.inventory == "" {
		return nil, &usageError{fmt.Errorf("no inventory: pass -i FILE or set HOMELAB_INVENTORY")}
	}
	inv, diags, err := homelab.Load(ctx, g.inventory)
	for _, line := range diags.Warnings().Lines(inventory.MaxShown) {
		fmt.Fprintln(g.stderr, line)
	}
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// target says which lab a command reads: none (offline), the simulated
// lab, or the real one the inventory names; and where that lab's admin
// kubeconfig goes, when not the inventory's path.
type target struct {
	offline, simulate bool
	kubeconfig        string
	// restore is a backup directory the plan restores the cluster from.
	restore string
	// offlineWorks is true for a command that takes --offline (plan).
	offlineWorks bool
	// replace names the guests a plan may rebuild (plan --replace).
	replace []string
	// noBackup: the plan's run takes no backup before it replaces a
	// control plane (plan --no-backup).
	noBackup bool
}

func addKubeconfigFlag(cmd *cobra.Command, t *target) {
	cmd.Flags().StringVar(&t.kubeconfig, "kubeconfig", "", "write the admin kubeconfig here instead of the inventory's kubernetes.kubeconfig")
}

func addTargetFlags(cmd *cobra.Command, t *target) {
	t.offlineWorks = true
	cmd.Flags().BoolVar(&t.offline, "offline", false, "do not read the lab: show the plan as on an empty lab")
	addSimulateFlag(cmd, t)
	addKubeconfigFlag(cmd, t)
}

func addSimulateFlag(cmd *cobra.Command, t *target) {
	cmd.Flags().BoolVar(&t.simulate, "simulate", false, "read the simulated lab (loopback only, kept in .homelab/<inventory>/simulated-lab/) instead of the real one")
}

// addRefusedOffline adds --offline to a command that must read the lab,
// hidden from --help and completion: it is there only to refuse with a
// reason instead of "unknown flag".
func addRefusedOffline(cmd *cobra.Command, t *target) {
	cmd.Flags().BoolVar(&t.offline, "offline", false, "")
	_ = cmd.Flags().MarkHidden("offline")
}

// compile loads the inventory and the plan file and makes the plan,
// observing the lab t names.
func (g *globals) compile(ctx context.Context, t target) (*plan.Plan, error) {
	if t.offline && t.simulate {
		return nil, &usageError{fmt.Errorf("--offline and --simulate: pick one")}
	}
	inv, err := g.load(ctx)
	if err != nil {
		return nil, err
	}
	file, err := plan.Open(g.plan)
	if err != nil {
		return nil, err
	}
	var restore *backup.Backup
	if t.restore != "" {
		if restore, err = homelab.OpenBackup(inv, t.restore); err != nil {
			return nil, err
		}
	}
	clients, done, err := g.clients(ctx, inv, t)
	if err != nil {
		return nil, err
	}
	defer done()
	return homelab.Plan(ctx, inv, file, homelab.PlanOptions{Offline: t.offline, Logger: g.logger(), Clients: clients, Kubeconfig: t.kubeconfig, Replace: t.replace, Restore: restore, NoBackup: t.noBackup})
}

// clients makes the clients for the lab t names: none when offline, a
// simulated lab, or the real one. done releases them.
func (g *globals) clients(ctx context.Context, inv *inventory.Inventory, t target) (homelab.Clients, func(), error) {
	switch {
	case t.offline:
		return homelab.Clients{}, func() {}, nil
	case t.simulate:
		lab, err := simlab.Start(ctx, inv, simlab.Options{StateDir: simlab.Dir(g.inventory, inv.Name), Logger: g.logger()})
		if err != nil {
			return homelab.Clients{}, nil, err
		}
		return lab.Clients(), func() { lab.Close() }, nil
	}
	c, err := homelab.Connect(ctx, inv, homelab.ConnectOptions{Logger: g.logger()})
	if err != nil {
		hint := "Without the real lab: --simulate runs against the simulated lab (loopback only)."
		if t.offlineWorks {
			hint = "Without the real lab: --offline shows the plan as on an empty lab, --simulate reads the simulated lab (loopback only)."
		}
		return homelab.Clients{}, nil, &hintError{fmt.Errorf("the real lab of inventory %q: %w", inv.Name, err), hint}
	}
	return c, func() { c.Close() }, nil
}

func addPlanFlag(cmd *cobra.Command, g *globals) {
	cmd.Flags().StringVarP(&g.plan, "plan", "p", "", "plan file (a path), or the name of a built-in plan ("+strings.Join(plans.Names(), ", ")+"); default: the built-in "+plans.Default)
}

func newValidateCommand(g *globals) *cobra.Command {
	var checkSecrets bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check an inventory (and a plan file) without touching the lab",
		Long: `validate reads the inventory, applies defaults and checks every rule,
reporting every problem as file:line:col: field: message. With -p it also
compiles the plan file against the inventory. Secret references are checked
for their form only, unless --check-secrets resolves them (their values are
never shown).`,
		Example: `  homelab validate -i inventories/rachuna-net.yaml
  homelab validate -i inventories/small.yaml -p plans/network.yaml
  HOMELAB_VRRP_PASSWORD=... homelab validate -i inventories/small.yaml --check-secrets`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, err := g.load(cmd.Context())
			if err != nil {
				return err
			}
			if checkSecrets {
				if err := inv.CheckSecrets(inventory.Resolver{}); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("plan") {
				file, err := plan.Open(g.plan)
				if err != nil {
					return err
				}
				if _, err := homelab.Plan(cmd.Context(), inv, file, homelab.PlanOptions{Offline: true, Logger: g.logger()}); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.stdout, "%s: valid (%d guests on %d nodes, %d networks)\n",
				g.inventory, len(inv.Guests), len(inv.Proxmox.Nodes), len(inv.Networks))
			return nil
		},
	}
	addPlanFlag(cmd, g)
	cmd.Flags().BoolVar(&checkSecrets, "check-secrets", false, "also resolve every secret reference (values are never shown)")
	return cmd
}

func newPlanCommand(g *globals) *cobra.Command {
	var (
		output, out string
		detailed    bool
		t           target
		targets     []string
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what a run would change, without changing anything",
		Long: `plan compiles the inventory and the plan file into ordered steps and shows,
for each, what it would do: + create, ~ update (with a field diff), - delete,
-/+ replace (deleted and created again, with --replace on up), = unchanged,
> run (a gate or an action that always runs), ! conflict.

Without flags it reads the lab the inventory names (read only: plan never
changes anything). --offline compiles without reading the lab and shows the
plan as it would be on an empty lab; reviewers without access to the lab use
it. --simulate reads the simulated lab instead: an in-process lab on
loopback that keeps its state in .homelab/<inventory>/simulated-lab/ beside
the inventory, so after "up --simulate" the plan shows what is left to do
(homelab sim reset starts it over). --out saves the plan as JSON for a
later apply (homelab show renders it again).

A plan that replaces a control-plane guest of a Kubernetes cluster says
that its run backs the cluster up first, and where (BACKUP; "backup" in
the JSON); with --no-backup it says that none is taken.

-p names a plan file, or a plan built into homelab by its name; without -p
the built-in full-stack plan runs.`,
		Example: `  homelab plan -i inventories/rachuna-net.yaml --offline
  homelab plan -i inventories/rachuna-net.yaml -p plans/network.yaml --simulate
  homelab plan -i inventories/rachuna-net.yaml -p plans/kubernetes.yaml --offline -o mermaid
  homelab plan -i inventories/small.yaml --offline --out plan.json
  homelab plan -i inventories/small.yaml --offline --detailed-exitcode  # exit 2 when there are changes
  homelab plan -i inventories/small.yaml --offline --target lb-1        # lb-1's steps and what they need`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !validFormat(output) {
				return &usageError{fmt.Errorf("-o %s: want one of %s", output, strings.Join(plan.Formats(), ", "))}
			}
			if out != "" && len(targets) > 0 {
				return &usageError{fmt.Errorf("--out with --target: apply runs whole plans, so a partial plan is not saved; run up --target instead")}
			}
			p, err := g.compile(cmd.Context(), t)
			if err != nil {
				return err
			}
			if len(targets) > 0 {
				inv, err := g.load(cmd.Context())
				if err != nil {
					return err
				}
				if p, err = g.narrow(inv, p, targets); err != nil {
					return err
				}
			}
			if out != "" {
				if err := plan.Save(out, p); err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "Saved the plan to %s.\n", out)
			}
			if err := plan.Render(g.stdout, p, output, g.color(g.stdout)); err != nil {
				return err
			}
			if detailed && p.HasChanges() {
				return errChanges
			}
			return nil
		},
	}
	addPlanFlag(cmd, g)
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "text", "rendering: "+strings.Join(plan.Formats(), ", "))
	f.StringVar(&out, "out", "", "also save the plan as JSON to this file")
	addTargetFlags(cmd, &t)
	cmd.Flags().StringVar(&t.restore, "restore", "", "plan a restore of the cluster from the backup in DIR, as up --restore does")
	f.StringSliceVar(&t.replace, "replace", nil, "guests the plan may rebuild when a change cannot be made in place (shown as -/+; a saved plan keeps the list)")
	f.BoolVar(&t.noBackup, "no-backup", false, "the run takes no backup of the cluster before it replaces a control plane (a saved plan keeps it)")
	f.BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when nothing would change, 2 when something would, 1 on error")
	addTargetFlag(cmd, &targets)
	return cmd
}

func newGraphCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the plan's step graph as Mermaid",
		Long: `graph compiles the plan without reading the lab and prints its steps and
needs as a Mermaid flowchart, one subgraph per phase. GitLab and GitHub draw
it in Markdown; so does the Mermaid live editor.`,
		Example: `  homelab graph -i inventories/rachuna-net.yaml > graph.mmd
  homelab graph -i inventories/small.yaml -p plans/kubernetes.yaml`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.compile(cmd.Context(), target{offline: true})
			if err != nil {
				return err
			}
			return plan.RenderMermaid(g.stdout, p)
		},
	}
	addPlanFlag(cmd, g)
	return cmd
}

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print homelab's version and the commit it was built from",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			version, commit := homelab.BuildVersion()
			if commit != "" {
				commit = ", commit " + commit
			}
			fmt.Fprintf(g.stdout, "homelab %s (plan format %d%s)\n", version, plan.FormatVersion, commit)
			return nil
		},
	}
}

func validFormat(f string) bool {
	for _, known := range plan.Formats() {
		if f == known {
			return true
		}
	}
	return false
}

// usageArgs marks the errors of an argument check as usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}
