package main

import (
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/pkg/simlab"
)

func newSimCommand(g *globals) *cobra.Command {
	sim := &cobra.Command{
		Use:   "sim",
		Short: "The simulated lab, for trying homelab and other tools without a lab",
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve a simulated lab on loopback until interrupted",
		Long: `sim serve starts the simulators of the inventory's lab as servers on
loopback ports — a MikroTik RouterOS API and a Proxmox VE API that speak
the real protocols — prints their endpoints and the credentials made up for
this run, and serves until Ctrl-C. Point your own tools (or go-routeros and
go-proxmox) at them. Nothing outside this machine is contacted. The served
lab is a fresh one, gone when it stops; it is not the lab --simulate keeps.`,
		Example: `  homelab sim serve -i inventories/rachuna-net.yaml`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, err := g.load(cmd.Context())
			if err != nil {
				return err
			}
			lab, err := simlab.Start(cmd.Context(), inv)
			if err != nil {
				return err
			}
			defer lab.Close()
			a := lab.Access()
			fmt.Fprintf(g.stdout, `Simulated lab for inventory %q (Ctrl-C stops it):
  RouterOS API   %s  (plain API; user %s, password %s)
  Proxmox VE API %s
                 token %s=%s
                 certificate fingerprint %s
`, inv.Name, a.RouterAddress, a.RouterUser, a.RouterPassword, a.ProxmoxURL, a.ProxmoxTokenID, a.ProxmoxTokenSecret, a.ProxmoxFingerprint)
			if len(a.SSHHosts) > 0 {
				fmt.Fprintf(g.stdout, "  SSH            key %s; a guest answers once the PVE simulator runs it\n"+
					"                 with its inventory address in ipconfig0 (a VM) or net0 (a container)\n", a.SSHKeyFile)
				for _, name := range slices.Sorted(maps.Keys(a.SSHHosts)) {
					fmt.Fprintf(g.stdout, "                 %-12s %s\n", name, a.SSHCommand(name))
				}
			}
			<-cmd.Context().Done()
			fmt.Fprintln(g.stdout, "Stopped.")
			return nil
		},
	}
	reset := &cobra.Command{
		Use:   "reset",
		Short: "Forget the simulated lab: the next --simulate starts from a fresh one",
		Long: `sim reset removes the simulated lab that up, plan, apply, status and down
--simulate keep for the inventory in .homelab/<inventory>/simulated-lab/
beside it, and nothing else. It refuses while a --simulate run has the lab
open.`,
		Example: `  homelab sim reset -i inventories/small.yaml`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, err := g.load(cmd.Context())
			if err != nil {
				return err
			}
			dir := simlab.Dir(g.inventory, inv.Name)
			removed, err := simlab.Reset(dir)
			if err != nil {
				return err
			}
			if !removed {
				fmt.Fprintf(g.stdout, "No simulated lab in %s: nothing to reset.\n", dir)
				return nil
			}
			fmt.Fprintf(g.stdout, "Removed the simulated lab in %s.\n", dir)
			return nil
		},
	}
	sim.AddCommand(serve, reset)
	return sim
}
