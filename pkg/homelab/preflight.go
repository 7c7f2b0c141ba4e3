package homelab

import (
	"context"
	"errors"
	"fmt"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/proxmox"
	"github.com/homelabctl/homelab/pkg/step"
)

// proxmoxPreflight checks, before the plan observes or changes anything,
// that the API token holds every privilege the plan's steps may use on
// the PVE cluster (see proxmox.Client.Preflight). Phases that ask PVE
// whether a guest runs need VM.Audit on it.
func proxmoxPreflight(ctx context.Context, inv *inventory.Inventory, p *plan.Plan, c *proxmox.Client) error {
	works := proxmoxWorks(p)
	var extra []proxmox.Requirement
	for _, ph := range p.Phases {
		if ph.Kind != "loadbalancers" && ph.Kind != "kubernetes" {
			continue
		}
		for _, g := range inv.Guests {
			extra = append(extra, proxmox.Requirement{Path: fmt.Sprintf("/vms/%d", g.VMID), Privs: []string{"VM.Audit"}, For: "read whether " + g.Name + " runs"})
		}
	}
	err := c.Preflight(ctx, works, extra)
	var mp *proxmox.MissingPrivilegesError
	if errors.As(err, &mp) {
		mp.Token = inv.Proxmox.TokenID
	}
	return err
}

// proxmoxWorks are the plan's works that call the PVE API.
func proxmoxWorks(p *plan.Plan) []step.Work {
	var works []step.Work
	for _, s := range p.Graph().Steps() {
		if _, ok := s.Work.(proxmox.PrivilegedWork); ok {
			works = append(works, s.Work)
		}
	}
	return works
}
