package simlab_test

import (
	"context"
	"fmt"

	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/simlab"
)

// Build the small lab's router and guests on a simulated lab, on
// loopback only, with homelab's own Up.
func ExampleStart() {
	ctx := context.Background()
	inv, _, err := homelab.Load(ctx, "../../inventories/small.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	file, err := homelab.LoadPlanFile("../../plans/infrastructure.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	lab, err := simlab.Start(ctx, inv)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lab.Close()
	_, res, err := homelab.Up(ctx, inv, file, homelab.ApplyOptions{Clients: lab.Clients()})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d steps done; %d guests run\n", len(res.Steps), len(lab.Proxmox.Guests())-len(inv.Proxmox.Templates.VM))
	// Output: 27 steps done; 4 guests run
}
