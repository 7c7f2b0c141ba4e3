package homelab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/simlab"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/routeros"
	simpve "github.com/homelabctl/homelab/pkg/sim/pve"
	simros "github.com/homelabctl/homelab/pkg/sim/routeros"
	"github.com/homelabctl/homelab/pkg/step"
)

// routerRows is the simulated router's configuration: menu -> .id -> props.
func routerRows(t *testing.T, r *simros.Server) map[string]map[string]map[string]string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Save(&b); err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Menus map[string][]struct {
			ID    string            `json:"id"`
			Props map[string]string `json:"props"`
		} `json:"menus"`
	}
	if err := json.Unmarshal(b.Bytes(), &saved); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]map[string]string{}
	for menu, items := range saved.Menus {
		out[menu] = map[string]map[string]string{}
		for _, it := range items {
			out[menu][it.ID] = it.Props
		}
	}
	return out
}

// guestsOf is the simulated cluster's guests of the inventory, by vmid.
func guestsOf(inv *inventory.Inventory, s *simpve.Server) map[int]simpve.Guest {
	out := map[int]simpve.Guest{}
	for _, g := range inv.Guests {
		if sg, ok := s.Guest(g.VMID); ok {
			out[g.VMID] = sg
		}
	}
	return out
}

// unmark takes homelab's marks off a built lab, as if other tools had
// made it: the tag and description of every guest, the comment of every
// router row.
func unmark(t *testing.T, ctx context.Context, inv *inventory.Inventory, lab *simlab.Lab) {
	t.Helper()
	c := lab.Clients()
	owned, err := routeros.OwnedEntries(ctx, c.Router, inv.Name)
	if err != nil {
		t.Fatal(err)
	}
	lab.Router.Console(func(r *simros.Router) {
		for _, o := range owned {
			r.Set(o.Menu, o.ID, map[string]string{"comment": ""})
		}
	})
	for _, g := range inv.Guests {
		path := fmt.Sprintf("/nodes/%s/qemu/%d/config", g.Node, g.VMID)
		if g.Kind == inventory.KindLXC {
			path = fmt.Sprintf("/nodes/%s/lxc/%d/config", g.Node, g.VMID)
		}
		if err := c.Proxmox.API().Put(ctx, path, map[string]string{"delete": "tags,description"}, nil); err != nil {
			t.Fatalf("unmark %s: %v", g.Name, err)
		}
	}
}

// homelab adopt on a lab built by other tools (the small lab built, then
// every mark taken off): the plan shows every guest and router row as
// "adopt", except the two that do not match the inventory (a lease whose
// address differs, a guest with another name), which stay conflicts.
// Adopt sets the marks only: every other property of every row and guest
// is as it was, and the guests keep running. A second plan is clean but
// for the two conflicts.
func TestAdoptMarksOnly(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	ctx := context.Background()
	file := infraAndLoadBalancers(t)
	if _, _, err := Up(ctx, inv, file, ApplyOptions{Clients: lab.Clients(), Parallelism: 6}); err != nil {
		t.Fatal(err)
	}
	unmark(t, ctx, inv, lab)

	// Two objects that clash without matching: worker-1's lease with
	// another address, lb-2 under another name.
	worker, _ := inv.Guest("worker-1")
	lb2, _ := inv.Guest("lb-2")
	leases := routerRows(t, lab.Router)["/ip/dhcp-server/lease"]
	lab.Router.Console(func(r *simros.Router) {
		for id, row := range leases {
			if strings.EqualFold(row["mac-address"], worker.MAC) {
				r.Set("/ip/dhcp-server/lease", id, map[string]string{"address": "192.168.30.99"})
			}
		}
	})
	if err := lab.Clients().Proxmox.API().Put(ctx, fmt.Sprintf("/nodes/%s/qemu/%d/config", lb2.Node, lb2.VMID), map[string]string{"name": "old-lb"}, nil); err != nil {
		t.Fatal(err)
	}

	p, err := Plan(ctx, inv, file, PlanOptions{Clients: lab.Clients()})
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary().Conflict < 10 {
		t.Fatalf("an unmarked lab has %d conflicts in a plan", p.Summary().Conflict)
	}

	beforeRows, beforeGuests := routerRows(t, lab.Router), guestsOf(inv, lab.Proxmox)
	adoptions, err := AdoptPlan(ctx, inv, file, lab.Clients())
	if err != nil {
		t.Fatal(err)
	}
	var conflicts, adopt []step.ID
	for _, a := range adoptions {
		if a.Adoptable() {
			adopt = append(adopt, a.Step)
		} else {
			conflicts = append(conflicts, a.Step)
		}
	}
	if want := []step.ID{step.LeaseID("worker-1"), step.GuestID("lb-2")}; !sameIDs(conflicts, want) {
		t.Errorf("conflicts %v, want %v", conflicts, want)
	}
	for _, id := range []step.ID{step.GuestID("lb-1"), step.GuestID("master-1"), step.LeaseID("lb-1"), step.DHCPServerID("lab"), "router/vlan/lab/ether2", "router/bridge/lab"} {
		if !slices.Contains(adopt, id) {
			t.Errorf("%s is not adopted: %v", id, adopt)
		}
	}
	for _, a := range adoptions {
		if a.Step == step.GuestID("lb-1") {
			if f := a.Change.Fields; len(f) != 2 || f[0].New != "homelab" || f[1].New != "homelab:small:lb-1" {
				t.Errorf("lb-1's mark: %+v", f)
			}
		}
	}

	var out bytes.Buffer
	err = Adopt(ctx, adoptions, &out)
	var ce *AdoptConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 2 || !strings.Contains(err.Error(), "old-lb") {
		t.Fatalf("adopt: %v\n%s", err, out.String())
	}

	// Marks only: the router rows differ in their comments, the guests in
	// their tags and descriptions, nothing else.
	afterRows := routerRows(t, lab.Router)
	for menu, rows := range beforeRows {
		for id, before := range rows {
			after, ok := afterRows[menu][id]
			if !ok {
				t.Errorf("%s %s is gone", menu, id)
				continue
			}
			b, a := maps.Clone(before), maps.Clone(after)
			delete(b, "comment")
			delete(a, "comment")
			if !maps.Equal(a, b) {
				t.Errorf("%s %s changed beyond its comment: %v -> %v", menu, id, before, after)
			}
		}
		if len(afterRows[menu]) != len(rows) {
			t.Errorf("%s: %d rows, then %d", menu, len(rows), len(afterRows[menu]))
		}
	}
	for vmid, before := range beforeGuests {
		after, _ := lab.Proxmox.Guest(vmid)
		b, a := maps.Clone(before.Config), maps.Clone(after.Config)
		for _, k := range []string{"tags", "description", "digest"} {
			delete(b, k)
			delete(a, k)
		}
		if !maps.Equal(a, b) || after.Status != before.Status || after.Instance != before.Instance || after.Node != before.Node {
			t.Errorf("guest %d changed beyond its mark: %+v -> %+v", vmid, before, after)
		}
	}

	p, err = Plan(ctx, inv, file, PlanOptions{Clients: lab.Clients()})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		switch {
		case s.ID == step.LeaseID("worker-1") || s.ID == step.GuestID("lb-2"):
			if s.Change.Action != step.Conflict {
				t.Errorf("%s: %s, want it to stay a conflict", s.ID, s.Change.Action.Name())
			}
		case s.Change.Action != step.None && s.Change.Action != step.Run:
			t.Errorf("after adopt, %s is %s (%s) %+v", s.ID, s.Change.Action.Name(), s.Change.Reason, s.Change.Fields)
		}
	}

	// Adopting again finds only the two conflicts.
	again, err := AdoptPlan(ctx, inv, file, lab.Clients())
	if err != nil || len(again) != 2 || again[0].Adoptable() || again[1].Adoptable() {
		t.Errorf("second adopt plan: %v %+v", err, again)
	}
}

func sameIDs(a, b []step.ID) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
