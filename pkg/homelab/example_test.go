package homelab_test

import (
	"context"
	"fmt"

	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/simlab"
)

// Load an inventory and see what a full build would do, without reading
// the lab.
func ExamplePlan() {
	inv, _, err := homelab.Load(context.Background(), "../../inventories/small.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	file, err := plan.LoadFile("../../plans/full-stack.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := homelab.Plan(context.Background(), inv, file, homelab.PlanOptions{Offline: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := p.Summary()
	fmt.Printf("%d steps: %d to create, %d to change, %d to run\n", len(p.Steps), s.Create, s.Update, s.Run)
	// Output: 52 steps: 38 to create, 7 to change, 6 to run
}

// Build the router and the guests on a simulated lab, then plan again:
// nothing is left to do.
func ExampleUp() {
	ctx := context.Background()
	inv, _, err := homelab.Load(context.Background(), "../../inventories/small.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	file, err := plan.LoadFile("../../plans/infrastructure.yaml")
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
	if _, _, err := homelab.Up(ctx, inv, file, homelab.ApplyOptions{Clients: lab.Clients()}); err != nil {
		fmt.Println(err)
		return
	}
	p, err := homelab.Plan(ctx, inv, file, homelab.PlanOptions{Clients: lab.Clients()})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := p.Summary()
	fmt.Printf("after up: %d unchanged, %d gates\n", s.None, s.Run)
	// Output: after up: 23 unchanged, 4 gates
}

// List what down would remove: only what carries the inventory's mark.
func ExampleDownPlan() {
	ctx := context.Background()
	inv, _, err := homelab.Load(context.Background(), "../../inventories/small.yaml")
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
	removals, err := homelab.DownPlan(ctx, inv, lab.Clients())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("a fresh lab: %d to remove\n", len(removals))
	// Output: a fresh lab: 0 to remove
}
