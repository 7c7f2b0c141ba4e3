package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/plan"
)

func newAdoptCommand(g *globals) *cobra.Command {
	var (
		yes bool
		t   target
	)
	cmd := &cobra.Command{
		Use:   "adopt",
		Short: "Mark as homelab's the guests and router rows that match the inventory but carry no mark",
		Long: `adopt takes over a lab that other tools made. It reads the lab (the guests
on Proxmox and the rows on the router the plan's steps would make) and
lists as "adopt" every object that matches a step by identity (a guest:
its vmid, name, kind and node; a router row: every identity property of
its menu, such as a lease's MAC address and address) but carries no
homelab mark, with the mark it gets, and as a conflict every object that
clashes without matching. It asks, then sets the marks and nothing else:
the homelab tag and the description's first line homelab:<inventory>:<guest>
on a guest, the homelab:<inventory>:<step> comment on a router row. What
up would then change is shown beside each object, for review; adopt
changes none of it. Conflicts stay conflicts (exit 1). --yes skips the
question (for scripts).`,
		Example: `  homelab adopt -i inventories/rachuna-net.yaml
  homelab adopt -i inventories/small.yaml --simulate --yes`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if t.offline {
				return &usageError{fmt.Errorf("adopt must read the lab: --offline does not apply")}
			}
			file, err := plan.Open(g.plan)
			if err != nil {
				return err
			}
			inv, clients, closeLab, err := g.openLab(cmd.Context(), "adopt", t)
			if err != nil {
				return err
			}
			defer closeLab()
			adoptions, err := homelab.AdoptPlan(cmd.Context(), inv, file, clients)
			if err != nil {
				return err
			}
			adopt := 0
			for _, a := range adoptions {
				if a.Adoptable() {
					adopt++
				}
			}
			if len(adoptions) == 0 {
				fmt.Fprintf(g.stdout, "Nothing to adopt: every object of inventory %q is homelab's or absent.\n", inv.Name)
				return nil
			}
			fmt.Fprintf(g.stdout, "homelab adopt will mark %d object(s) as inventory %q's (the mark only; nothing else changes), %d conflict(s):\n",
				adopt, inv.Name, len(adoptions)-adopt)
			for _, a := range adoptions {
				if !a.Adoptable() {
					fmt.Fprintf(g.stdout, "  ! %s  %s\n      # %s\n", a.Step, a.Description, a.Change.Reason)
					continue
				}
				var marks []string
				for _, f := range a.Change.Fields {
					marks = append(marks, fmt.Sprintf("%s: %q -> %q", f.Name, f.Old, f.New))
				}
				fmt.Fprintf(g.stdout, "  + adopt %s  %s\n      %s\n", a.Step, a.Description, strings.Join(marks, "; "))
				if a.Change.Reason != "" {
					fmt.Fprintf(g.stdout, "      # %s\n", a.Change.Reason)
				}
			}
			if adopt > 0 && !yes {
				fmt.Fprint(g.stdout, "Adopt them? Only 'yes' is accepted: ")
				answer, _ := bufio.NewReader(g.stdin).ReadString('\n')
				if strings.TrimSpace(answer) != "yes" {
					return fmt.Errorf("adopt cancelled: nothing was marked")
				}
			}
			return homelab.Adopt(cmd.Context(), adoptions, g.stdout)
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask")
	addPlanFlag(cmd, g)
	addTargetFlags(cmd, &t)
	return cmd
}
