package homelab_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/proxmox"
)

// provisionerPrivileges is what a least-privilege token holds in the
// tests below: everything on /vms and /storage that homelab's guests
// need, Sys.Modify on / (startup orders), and nothing on /sdn.
func provisionerPrivileges() map[string][]string {
	return map[string][]string{
		"/vms": {"VM.Audit", "VM.Allocate", "VM.Clone", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Disk",
			"VM.Config.Network", "VM.Config.Options", "VM.Config.Cloudinit", "VM.PowerMgmt"},
		"/storage": {"Datastore.AllocateSpace", "Datastore.Audit"},
		// every guest's startup order
		"/": {"Sys.Modify"},
	}
}

// A token with SDN.Use on the bridge but not on VLAN 10 (an empty entry
// there hides the bridge's grant): the run must stop before its first
// write and name the missing privilege with its path. Without the
// preflight it clones the guests, then fails "not authorized"
// configuring their NICs.
func TestPreflightStopsBeforeAnyWrite(t *testing.T) {
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	lab := guestsLab(t, inv)
	acl := provisionerPrivileges()
	acl["/sdn/zones/localnetwork/vmbr0"] = []string{"SDN.Use"}
	acl["/sdn/zones/localnetwork/vmbr0/10"] = []string{}
	if err := lab.Proxmox.SetPrivileges(inv.Proxmox.TokenID, acl); err != nil {
		t.Fatal(err)
	}
	before := len(lab.Proxmox.Guests())
	ctx := context.Background()
	file, err := plan.LoadFile("../../plans/guests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(ctx, inv, file, PlanOptions{Clients: lab.Clients()})
	if err == nil {
		_, err = runFast(ctx, p.Graph())
	}
	if err == nil {
		t.Fatal("the run succeeded without SDN.Use")
	}
	if n, now := lab.Proxmox.MutatingCalls(), len(lab.Proxmox.Guests()); n != 0 || now != before {
		t.Fatalf("PVE saw %d writes (%d guests made) before the run failed: %v", n, now-before, err)
	}
	var mp *proxmox.MissingPrivilegesError
	if !errors.As(err, &mp) {
		t.Fatalf("want a *proxmox.MissingPrivilegesError, got %v", err)
	}
	if mp.Token != inv.Proxmox.TokenID || len(mp.Missing) != 1 || mp.Missing[0].String() != "SDN.Use on /sdn/zones/localnetwork/vmbr0/10" {
		t.Errorf("missing: %+v", mp)
	}
	if want := "\n  SDN.Use on /sdn/zones/localnetwork/vmbr0/10 (the NIC of "; !strings.Contains(err.Error(), want) {
		t.Errorf("the error does not name %q:\n%v", want, err)
	}
}

// A token that may only read: one error names every missing privilege
// with its path (VM.Audit, granted on /vms, propagates to the guests and
// is not listed); PVE saw reads only; an offline plan asks nothing.
func TestPreflightNamesEveryMissingPrivilege(t *testing.T) {
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	lab := guestsLab(t, inv)
	if err := lab.Proxmox.SetPrivileges(inv.Proxmox.TokenID, map[string][]string{"/vms": {"VM.Audit"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	file, err := plan.LoadFile("../../plans/guests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(ctx, inv, file, PlanOptions{Clients: lab.Clients(), Offline: true}); err != nil {
		t.Fatalf("offline plan: %v", err)
	}
	if n := lab.Proxmox.Count("GET", "/access/permissions"); n != 0 {
		t.Fatalf("an offline plan read the token's privileges %d times", n)
	}
	_, err = Plan(ctx, inv, file, PlanOptions{Clients: lab.Clients()})
	var mp *proxmox.MissingPrivilegesError
	if !errors.As(err, &mp) {
		t.Fatalf("want a *proxmox.MissingPrivilegesError, got %v", err)
	}
	var got []string
	for _, m := range mp.Missing {
		got = append(got, m.String())
	}
	var vm, ct inventory.Guest
	for _, g := range inv.Guests {
		if g.Kind == inventory.KindVM && vm.Name == "" {
			vm = g
		}
		if g.Kind == inventory.KindLXC && ct.Name == "" {
			ct = g
		}
	}
	for _, want := range []string{
		"VM.Allocate on /vms/" + itoa(vm.VMID),
		"VM.Allocate on /vms/" + itoa(ct.VMID),
		"VM.Clone on /vms/9001",
		"VM.Config.Cloudinit or VM.Config.Network on /vms/" + itoa(vm.VMID),
		"VM.Config.Network on /vms/" + itoa(ct.VMID),
		"VM.PowerMgmt on /vms/" + itoa(vm.VMID),
		"Datastore.AllocateSpace on /storage/local-lvm",
		"Datastore.AllocateSpace or Datastore.Audit on /storage/local",
		"SDN.Use on /sdn/zones/localnetwork/vmbr0",
		"SDN.Use on /sdn/zones/localnetwork/vmbr0/10",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing privileges do not list %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, g := range got {
		if strings.HasPrefix(g, "VM.Audit ") {
			t.Errorf("VM.Audit on /vms propagates, yet %q is listed", g)
		}
	}
	if n := lab.Proxmox.MutatingCalls(); n != 0 {
		t.Errorf("the preflight made %d writes", n)
	}
	msg := err.Error()
	if !strings.Contains(msg, "nothing was changed") || !strings.Contains(msg, "docs/dr-runbook.md") || !strings.Contains(msg, "\n  VM.Allocate on /vms/1005, /vms/1006, ") {
		t.Errorf("the message does not say what is missing, what happened and what to do:\n%v", err)
	}
	t.Logf("the plan's error:\n%v", err)
}

func itoa(n int) string { return strconv.Itoa(n) }
