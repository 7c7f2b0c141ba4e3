package main

import (
	"context"
	"github.com/homelabctl/homelab/pkg/simlab"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/homelab"
)

// setNode powers a node of the simulated lab kept beside the inventory on
// or off, as another process would.
func setNode(t *testing.T, invPath, node string, online bool) {
	t.Helper()
	ctx := context.Background()
	inv, _, err := homelab.Load(ctx, invPath)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := simlab.Start(ctx, inv, simlab.Options{StateDir: simlab.Dir(invPath, inv.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Proxmox.SetNodeOnline(node, online); err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
}

// With Proxmox node pve-s3 offline, up builds the rest and exits 3
// (degraded), naming the node and its guests; plan --detailed-exitcode
// says what is skipped and exits 2; once the node is back, up exits 0.
func TestUpDegradedExitCode(t *testing.T) {
	invPath := tempInventory(t, "rachuna-net")
	setNode(t, invPath, "pve-s3", false)
	code, out, errOut := runCLI(t, "up", "--simulate", "-i", invPath, "-p", "plans/infrastructure.yaml")
	if code != exitDegraded {
		t.Fatalf("up with pve-s3 offline: exit %d, want %d (stderr %q)\n%s", code, exitDegraded, errOut, out)
	}
	if want := "Degraded: node pve-s3 is offline (not built: ct01007, lb-3, master-3, worker-3, worker-6)"; !strings.Contains(errOut, want) || strings.Contains(errOut, "Error:") {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	code, out, _ = runCLI(t, "plan", "--simulate", "-i", invPath, "-p", "plans/infrastructure.yaml", "--detailed-exitcode")
	if code != exitChanges || !strings.Contains(out, "DEGRADED: Proxmox node pve-s3 is offline; its guests ct01007, lb-3, master-3, worker-3, worker-6 are skipped") ||
		!strings.Contains(out, "/ guest/master-3") || !strings.Contains(out, "Plan: 0 to create, 0 to change") {
		t.Errorf("plan with pve-s3 offline (exit %d):\n%s", code, out)
	}
	setNode(t, invPath, "pve-s3", true)
	code, out, errOut = runCLI(t, "up", "--simulate", "-i", invPath, "-p", "plans/infrastructure.yaml")
	if code != exitOK || !strings.Contains(summaryLine(out, "guests"), "5 created, 5 changed") {
		t.Fatalf("up with pve-s3 back: exit %d (stderr %q)\n%s", code, errOut, out)
	}
}
