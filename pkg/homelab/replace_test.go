package homelab_test

import (
	"context"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// A plan made with Replace shows each rebuild as a replace and keeps the
// list it was made with: applying the saved plan rebuilds with that list,
// and another list is refused before anything is read or changed.
func TestSavedPlanKeepsItsReplace(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile("../../inventories/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "small.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	inv := loadInventory(t, path)
	lab := guestsLab(t, inv)
	c := lab.Clients()
	file, err := plan.Open("guests")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runFast(ctx, guestsPlan(t, inv, c).Graph()); err != nil {
		t.Fatal(err)
	}

	// The network moves to another VLAN: no running guest's NIC can follow.
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), "vlan: 30", "vlan: 31", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	inv = loadInventory(t, path)
	var names []string
	for _, g := range inv.Guests {
		names = append(names, g.Name)
	}
	p, err := Plan(ctx, inv, file, PlanOptions{Clients: c, Replace: names})
	if err != nil {
		t.Fatal(err)
	}
	saved := savedPlan(t, p)
	if !slices.Equal(saved.Replace, names) {
		t.Fatalf("the saved plan may rebuild %v, want %v", saved.Replace, names)
	}
	if sum := saved.Summary(); sum.Replace != len(names) || sum.Delete != len(names) {
		t.Fatalf("summary %+v, want %d replaces, each a delete", sum, len(names))
	}

	before := lab.Proxmox.MutatingCalls()
	_, _, err = Apply(ctx, saved, ApplyOptions{Clients: c, Replace: names[:1]})
	if err == nil || !strings.Contains(err.Error(), "the saved plan may rebuild "+strings.Join(names, ", ")+", not "+names[0]) {
		t.Fatalf("apply with another --replace: %v", err)
	}
	if lab.Proxmox.MutatingCalls() != before {
		t.Fatal("a refused apply changed the lab")
	}

	if _, _, err := Apply(ctx, saved, ApplyOptions{Clients: c}); err != nil {
		t.Fatal(err)
	}
	for _, g := range inv.Guests {
		got, _ := lab.Proxmox.Guest(g.VMID)
		if !strings.Contains(got.Config["net0"], "tag=31") || got.Status != "running" {
			t.Errorf("%s after the rebuild: net0 %q, %s", g.Name, got.Config["net0"], got.Status)
		}
	}
	st, _ := guestsPlan(t, inv, c).Step(step.GuestID(names[0]))
	if st.Change.Action != step.None {
		t.Errorf("after the apply, %s plans %s (%s)", names[0], st.Change.Action.Name(), strconv.Quote(st.Change.Reason))
	}
}
