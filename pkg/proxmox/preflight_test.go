package proxmox

import (
	"testing"

	pve "github.com/luthermonson/go-proxmox"
)

// Granted reads an /access/permissions answer as PVE means it: a listed
// path is exact; an unlisted one holds what its nearest listed ancestor
// propagates, skipping an ancestor whose entry does not propagate.
func TestGranted(t *testing.T) {
	perms := pve.Permissions{
		"/":                             {"Sys.Audit": true},
		"/vms":                          {"VM.Audit": true, "VM.Allocate": true},
		"/vms/150":                      {"VM.Clone": true},
		"/storage/local-lvm":            {"Datastore.AllocateSpace": false},
		"/sdn/zones/localnetwork/vmbr0": {"SDN.Use": true},
	}
	for _, tc := range []struct {
		path, priv string
		want       bool
	}{
		{"/vms", "VM.Audit", true},
		{"/vms/100", "VM.Allocate", true},  // propagates from /vms
		{"/vms/150", "VM.Allocate", false}, // /vms/150's entry replaces /vms's
		{"/vms/150", "VM.Clone", true},     //
		{"/storage/local-lvm", "Datastore.AllocateSpace", true},
		{"/storage/local-lvm/x", "Datastore.AllocateSpace", false}, // propagate=0
		{"/storage/local-lvm/x", "Sys.Audit", true},                // so / applies there
		{"/sdn/zones/localnetwork/vmbr0/10", "SDN.Use", true},
		{"/sdn/zones/localnetwork/vmbr1", "SDN.Use", false},
		{"/nodes/pve-s1", "Sys.Audit", true},
		{"/", "VM.Audit", false},
	} {
		if got := Granted(perms, tc.path, tc.priv); got != tc.want {
			t.Errorf("Granted(%s, %s) = %v, want %v", tc.path, tc.priv, got, tc.want)
		}
	}
}

// Missing merges requirements per path and privileges, keeps any-of
// requirements met by either privilege, and names what needs them.
func TestMissing(t *testing.T) {
	perms := pve.Permissions{"/vms": {"VM.Config.Network": true}}
	got := Missing(perms, []Requirement{
		{Path: "/vms/101", Privs: []string{"VM.Config.Cloudinit", "VM.Config.Network"}, For: "ciuser of lb-1"},
		{Path: "/vms/101", Privs: []string{"VM.PowerMgmt"}, For: "start lb-1"},
		{Path: "/vms/101", Privs: []string{"VM.PowerMgmt"}, For: "stop lb-1"},
		{Path: "/sdn/zones/localnetwork/vmbr0/10", Privs: []string{"SDN.Use"}, For: "the NIC of lb-1"},
	})
	want := []Requirement{
		{Path: "/sdn/zones/localnetwork/vmbr0/10", Privs: []string{"SDN.Use"}, For: "the NIC of lb-1"},
		{Path: "/vms/101", Privs: []string{"VM.PowerMgmt"}, For: "start lb-1, stop lb-1"},
	}
	if len(got) != len(want) {
		t.Fatalf("Missing = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i].String() || got[i].For != want[i].For {
			t.Errorf("Missing[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	msg := (&MissingPrivilegesError{Token: "homelab@pve!homelab", Missing: got}).Error()
	if msg != "the Proxmox API token homelab@pve!homelab lacks 2 privilege(s) this plan needs; nothing was changed:\n"+
		"  SDN.Use on /sdn/zones/localnetwork/vmbr0/10 (the NIC of lb-1)\n"+
		"  VM.PowerMgmt on /vms/101 (start lb-1, stop lb-1)\n"+
		"grant them to the token (docs/dr-runbook.md, \"Proxmox privileges\") and run again" {
		t.Errorf("message:\n%s", msg)
	}
}
