package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/pkg/homelab"
)

func newDownCommand(g *globals) *cobra.Command {
	var (
		yes, noBackup bool
		t             target
	)
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove what homelab made for an inventory, and nothing else",
		Long: `down lists every guest and router entry that carries the inventory's mark
(guests: homelab's description or tag; router entries: the
homelab:<inventory>: comment), asks, then removes them: guests first, then
router entries in the reverse of the order they were made. Nothing without
the mark is listed or touched. --yes skips the question (for scripts).
--simulate removes them from the simulated lab (see up --help).

When the inventory has a Kubernetes cluster and down removes a control
plane, it first backs the cluster up (what "homelab backup" takes) into a
new directory under kubernetes.backup_dir and says where; it removes
nothing if that backup fails. When no control plane answers (the cluster is
gone already) it says so and goes on. Without kubernetes.backup_dir, down
stops before removing anything if the cluster answers. --no-backup takes
no backup.`,
		Example: `  homelab down -i inventories/small.yaml
  homelab down -i inventories/small.yaml --yes
  homelab down -i inventories/small.yaml --simulate --yes
  homelab down -i inventories/small.yaml --no-backup   # the cluster goes without a backup`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if t.offline {
				return &usageError{fmt.Errorf("down must read the lab: --offline does not apply")}
			}
			inv, clients, closeLab, err := g.openLab(cmd.Context(), "down", t)
			if err != nil {
				return err
			}
			defer closeLab()
			removals, err := homelab.DownPlanWith(cmd.Context(), inv, clients, homelab.DownOptions{NoBackup: noBackup})
			if err != nil {
				return err
			}
			if len(removals) == 0 {
				fmt.Fprintf(g.stdout, "Nothing carries the mark of inventory %q: nothing to remove.\n", inv.Name)
				return nil
			}
			n := len(removals)
			if removals[0].Backup {
				n--
			}
			fmt.Fprintf(g.stdout, "homelab down will remove %d item(s) of inventory %q (only what carries its mark):\n", n, inv.Name)
			for _, r := range removals {
				if r.Backup {
					fmt.Fprintf(g.stdout, "  > %-8s %s\n", "backup", r.What)
					continue
				}
				if r.Keep != "" {
					fmt.Fprintf(g.stdout, "  = %-8s %s (kept: %s)\n", r.Phase, r.What, r.Keep)
					continue
				}
				fmt.Fprintf(g.stdout, "  - %-8s %s\n", r.Phase, r.What)
			}
			if !yes {
				fmt.Fprint(g.stdout, "Remove them? Only 'yes' is accepted: ")
				answer, _ := bufio.NewReader(g.stdin).ReadString('\n')
				if strings.TrimSpace(answer) != "yes" {
					return fmt.Errorf("down cancelled: nothing was removed")
				}
			}
			return homelab.Down(cmd.Context(), removals, g.stdout)
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask")
	cmd.Flags().BoolVar(&noBackup, "no-backup", false, "do not back the cluster up before removing its control planes")
	addSimulateFlag(cmd, &t)
	addRefusedOffline(cmd, &t)
	return cmd
}
