package simlab

import (
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/proxmox"
	"github.com/homelabctl/homelab/pkg/step"
)

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
