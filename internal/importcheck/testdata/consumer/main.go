// Command consumer plans a lab with homelab as a library: it imports
// only pkg/homelab, so it compiles no simulator.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/homelabctl/homelab/pkg/homelab"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: consumer INVENTORY PLAN")
	}
	ctx := context.Background()
	inv, _, err := homelab.Load(ctx, os.Args[1])
	if err != nil {
		log.Fatal(err) // every problem, as file:line:col: field: message
	}
	file, err := homelab.LoadPlanFile(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	// Offline: compiled as on an empty lab; nothing is contacted.
	p, err := homelab.Plan(ctx, inv, file, homelab.PlanOptions{Offline: true})
	if err != nil {
		log.Fatal(err)
	}
	s := p.Summary()
	fmt.Printf("%s: %d steps, %d to create, %d to change, %d to run\n", inv.Name, len(p.Steps), s.Create, s.Update, s.Run)
	for _, st := range p.Steps[:3] {
		fmt.Printf("  %s %s\n", st.Change.Action, st.ID)
	}

	// An inventory changed in memory is checked as a file is.
	inv.Guests[1].VMID = inv.Guests[0].VMID
	if _, err := homelab.Validate(ctx, inv); err != nil {
		fmt.Println(err)
	}
}
