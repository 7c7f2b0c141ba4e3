package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/homelabctl/homelab/pkg/simlab"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/routeros"
	simros "github.com/homelabctl/homelab/pkg/sim/routeros"
)

// unmarkSimulated takes every homelab mark off the simulated lab kept
// beside the inventory, as if other tools had made it.
func unmarkSimulated(t *testing.T, invPath string) {
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
	defer lab.Close()
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
		kind := "qemu"
		if g.Kind == inventory.KindLXC {
			kind = "lxc"
		}
		if err := c.Proxmox.API().Put(ctx, fmt.Sprintf("/nodes/%s/%s/%d/config", g.Node, kind, g.VMID), map[string]string{"delete": "tags,description"}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// adopt on the simulated lab: the plan lists every object as "adopt",
// an answer other than yes marks nothing, --yes marks them, and a plan
// after it has nothing to change.
func TestAdoptSimulated(t *testing.T) {
	invPath := tempInventory(t, "small")
	infra := []string{"-i", invPath, "-p", "plans/infrastructure.yaml", "--simulate"}
	if code, out, errOut := runCLI(t, append([]string{"up"}, infra...)...); code != 0 {
		t.Fatalf("up: exit %d %s\n%s", code, errOut, out)
	}
	unmarkSimulated(t, invPath)
	if code, out, _ := runCLI(t, append([]string{"plan", "--detailed-exitcode"}, infra...)...); code != exitChanges || !strings.Contains(out, "! guest/lb-1") {
		t.Fatalf("plan of the unmarked lab: exit %d\n%s", code, out)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"adopt"}, infra...), strings.NewReader("no\n"), &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "adopt cancelled: nothing was marked") ||
		!strings.Contains(stdout.String(), `+ adopt guest/lb-1`) || !strings.Contains(stdout.String(), `description: "" -> "homelab:small:lb-1"`) {
		t.Fatalf("adopt answered no: exit %d %s\n%s", code, stderr.String(), stdout.String())
	}
	if code, out, _ := runCLI(t, append([]string{"plan", "--detailed-exitcode"}, infra...)...); code != exitChanges {
		t.Fatalf("plan after a cancelled adopt: exit %d\n%s", code, out)
	}
	code, out, errOut := runCLI(t, append([]string{"adopt", "--yes"}, infra...)...)
	if code != exitOK || !strings.Contains(out, "marked lb-1 (201) as homelab's") {
		t.Fatalf("adopt --yes: exit %d %s\n%s", code, errOut, out)
	}
	if code, out, _ := runCLI(t, append([]string{"plan", "--detailed-exitcode"}, infra...)...); code != exitOK {
		t.Errorf("plan after adopt: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, append([]string{"adopt"}, infra...)...); code != exitOK || !strings.Contains(out, "Nothing to adopt") {
		t.Errorf("adopt again: exit %d\n%s", code, out)
	}
}

// Without -p, adopt reads the lab through the built-in full-stack plan,
// as every other command does (it once read the plan as a file named ""
// and failed before looking at the lab).
func TestAdoptDefaultPlan(t *testing.T) {
	invPath := tempInventory(t, "small")
	code, out, errOut := runCLI(t, "adopt", "-i", invPath, "--simulate", "--yes")
	if code != exitOK || !strings.Contains(out, "Nothing to adopt") {
		t.Fatalf("adopt without -p on an empty simulated lab: exit %d\n%s\n%s", code, out, errOut)
	}
}
