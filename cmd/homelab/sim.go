package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/pkg/homelab"
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
go-proxmox) at them. Nothing outside this machine is contacted.`,
		Example: `  homelab sim serve -i inventories/rachuna-net.yaml`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, err := g.load()
			if err != nil {
				return err
			}
			lab, err := homelab.Simulate(cmd.Context(), inv)
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
			<-cmd.Context().Done()
			fmt.Fprintln(g.stdout, "Stopped.")
			return nil
		},
	}
	sim.AddCommand(serve)
	return sim
}
