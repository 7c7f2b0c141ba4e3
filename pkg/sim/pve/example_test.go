package pve_test

import (
	"context"
	"fmt"
	"log"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"

	"github.com/homelabctl/homelab/pkg/sim/pve"
)

// A test starts a simulator and points an unmodified go-proxmox client
// at it.
func Example() {
	sim, err := pve.New(pve.Options{}) // pve-s1..s3, templates 9000..9002
	if err != nil {
		log.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		log.Fatal(err)
	}
	defer sim.Close()

	c := proxmox.NewClient(sim.URL(),
		proxmox.WithAPIToken(pve.DefaultTokenID, pve.DefaultTokenSecret),
		proxmox.WithHTTPClient(sim.HTTPClient()))
	ctx := context.Background()
	tmpl := &proxmox.VirtualMachine{}
	tmpl.New(c, "pve-s1", 9000)
	_, task, err := tmpl.Clone(ctx, &proxmox.VirtualMachineCloneOptions{NewID: 105, Name: "lb-1", Full: true})
	if err != nil {
		log.Fatal(err)
	}
	if err := task.Wait(ctx, 10*time.Millisecond, 10*time.Second); err != nil {
		log.Fatal(err)
	}
	g, _ := sim.Guest(105)
	fmt.Println(task.Type, task.ExitStatus, g.Name, g.Status)
	fmt.Println(sim.MutatingCalls(), "mutating call(s)")
	// Output:
	// qmclone OK lb-1 stopped
	// 1 mutating call(s)
}
