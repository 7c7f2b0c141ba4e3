package homelab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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

// labPrivileges is the simulated lab's token's ACL: what the preflight
// requires for inv's guests, granted as docs/dr-runbook.md grants it
// (guests' privileges on /vms, storage and bridges on their own paths),
// plus SDN.Use on the templates' bridges, which clones keep.
func labPrivileges(inv *inventory.Inventory, templateBridges []string) (map[string][]string, error) {
	var works []step.Work
	for i := range inv.Guests {
		spec, err := proxmox.SpecFor(inv, &inv.Guests[i])
		if err != nil {
			return nil, err
		}
		works = append(works, proxmox.GuestWork{Spec: spec}, proxmox.BootWork{Spec: spec})
	}
	acl := map[string][]string{}
	grant := func(path, priv string) {
		if strings.HasPrefix(path, "/vms/") {
			path = "/vms"
		}
		if !slices.Contains(acl[path], priv) {
			acl[path] = append(acl[path], priv)
		}
	}
	for _, w := range works {
		for _, r := range w.(proxmox.PrivilegedWork).Privileges() {
			grant(r.Path, r.Privs[0])
		}
	}
	for _, b := range templateBridges {
		grant(b, "SDN.Use")
	}
	return acl, nil
}
