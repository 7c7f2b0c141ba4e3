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

// proxmoxPreflight checks, before the plan changes anything, that the API
// token holds every privilege the plan's steps may use on the PVE cluster
// (see proxmox.Client.Preflight). Phases that ask PVE whether a guest runs
// need VM.Audit on it. When observed, only the steps the observation found
// writing count (their reads already succeeded): a plan that writes
// nothing on the cluster needs nothing more.
func proxmoxPreflight(ctx context.Context, inv *inventory.Inventory, p *plan.Plan, c *proxmox.Client, observed bool) error {
	works := proxmoxWorks(p, observed)
	if observed && len(works) == 0 {
		return nil
	}
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

// proxmoxWorks are the plan's works that call the PVE API; with writing,
// only those whose observed change writes (or could not be read yet).
func proxmoxWorks(p *plan.Plan, writing bool) []step.Work {
	var works []step.Work
	for _, s := range p.Graph().Steps() {
		if _, ok := s.Work.(proxmox.PrivilegedWork); !ok {
			continue
		}
		if ps, ok := p.Step(s.ID); writing && ok && !ps.Change.Action.Changes() && !ps.Change.Fresh && ps.Change.Action != step.Conflict {
			continue
		}
		works = append(works, s.Work)
	}
	return works
}
