package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/internal/view"
)

func newStatusCommand(g *globals) *cobra.Command {
	var t target
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show desired against observed for every resource",
		Long: `status reads the lab (read only, as plan does) and shows, per resource, whether
it is in sync with the inventory, missing, drifted (with the fields that
differ), in conflict with something homelab does not own, or a gate that
is checked on every run. --simulate reads the simulated lab (see up --help).`,
		Example: `  homelab status -i inventories/rachuna-net.yaml
  homelab status -i inventories/small.yaml -p plans/network.yaml --simulate`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if t.offline {
				return &usageError{fmt.Errorf("status must read the lab: --offline does not apply")}
			}
			p, err := g.compile(cmd.Context(), t)
			if err != nil {
				return err
			}
			return view.Status(g.stdout, p)
		},
	}
	addPlanFlag(cmd, g)
	addSimulateFlag(cmd, &t)
	cmd.Flags().StringVar(&t.kubeconfig, "kubeconfig", "", "the admin kubeconfig up --kubeconfig wrote, instead of the inventory's kubernetes.kubeconfig")
	addRefusedOffline(cmd, &t)
	return cmd
}
