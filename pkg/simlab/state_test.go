package simlab

import (
	"context"
	"github.com/homelabctl/homelab/pkg/homelab"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/step"
)

// A simulated lab kept in a directory survives its process: built up to
// the load balancers, closed and simulated again from the directory, it
// plans no change at all, its hosts kept their SSH keys (known_hosts
// trusts them, by the guests' addresses) and the VIPs find holders again.
func TestSimulatedLabStateDir(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	dir := filepath.Join(t.TempDir(), "simulated-lab")
	ctx := context.Background()
	file := infraAndLoadBalancers(t)
	lab, err := Start(ctx, inv, Options{VRRPScale: 0.05, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var out outputSink
	if _, _, err := homelab.Up(ctx, inv, file, homelab.ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(out.Event)}); err != nil {
		lab.Close()
		t.Fatalf("up: %v\n%s", err, strings.Join(out.lines, "\n"))
	}
	if got := lab.Access().SSHKeyFile; got != filepath.Join(dir, "id_ed25519") {
		t.Errorf("SSH key file %s, want it in the state directory", got)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"lab.json", "proxmox.json", "router.json", "id_ed25519", "known_hosts", "hosts/lb-1/etc/haproxy/haproxy.cfg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the state directory lacks %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "lock")); !os.IsNotExist(err) {
		t.Errorf("Close left the lock: %v", err)
	}
	known, _ := os.ReadFile(filepath.Join(dir, "known_hosts"))
	lb1, _ := inv.Guest("lb-1")
	if !strings.Contains(string(known), lb1.IP.String()+" ") || strings.Contains(string(known), "127.0.0.1") {
		t.Errorf("saved known_hosts does not name the guests by their addresses:\n%s", known)
	}

	lab, err = Start(ctx, inv, Options{VRRPScale: 0.05, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	if _, err := Start(ctx, inv, Options{StateDir: dir}); err == nil || !strings.Contains(err.Error(), "another run holds") {
		t.Errorf("a second process on an open lab: %v", err)
	}
	p, err := homelab.Plan(ctx, inv, file, homelab.PlanOptions{Clients: lab.Clients()})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Observed {
		t.Error("the plan did not observe the lab")
	}
	for _, s := range p.Steps {
		if a := s.Change.Action; a != step.None && a != step.Run {
			t.Errorf("%s: %s (%s) on the reopened lab", s.ID, a, s.Change.Reason)
		}
	}
	// The hosts answer SSH with the keys known_hosts trusted.
	h, err := lab.Clients().Hosts("lb-1")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := h.Read(ctx, "/etc/hostname"); err != nil || string(b) != "lb-1\n" {
		t.Fatalf("SSH to lb-1 after the reopen: %q %v", b, err)
	}
	// The load balancers booted again: each VIP finds one holder once
	// keepalived's timers ran out.
	for _, vip := range inv.LoadBalancer.VIPs {
		var holders []string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if holders = lab.Hosts.Holders(ctx, vip.Address); len(holders) == 1 {
				break
			}
		}
		if len(holders) != 1 {
			t.Errorf("VIP %s holders after the reopen: %v", vip.Name, holders)
		}
	}
}

// A state directory made for one inventory is refused for another, and
// left as it was.
func TestSimulatedLabStateDirOtherInventory(t *testing.T) {
	small := loadInventory(t, "../../inventories/small.yaml")
	other := loadInventory(t, "../../inventories/rachuna-net.yaml")
	dir := t.TempDir()
	lab, err := Start(context.Background(), small, Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "lab.json"))
	_, err = Start(context.Background(), other, Options{StateDir: dir})
	if err == nil || !strings.Contains(err.Error(), `made for inventory "`+small.Name+`", not "`+other.Name+`"`) {
		t.Fatalf("another inventory's lab: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "lab.json"))
	if string(before) != string(after) {
		t.Error("the refused directory changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "lock")); !os.IsNotExist(err) {
		t.Errorf("the refusal left a lock: %v", err)
	}
}

// ResetSimulation removes a simulated lab's directory, and refuses one
// that holds something else.
func TestReset(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	dir := filepath.Join(t.TempDir(), "simulated-lab")
	if removed, err := Reset(dir); removed || err != nil {
		t.Fatalf("reset of nothing: %v %v", removed, err)
	}
	lab, err := Start(context.Background(), inv, Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Reset(dir); err == nil {
		t.Error("reset of a lab in use was accepted")
	}
	lab.Close()
	if removed, err := Reset(dir); !removed || err != nil {
		t.Fatalf("reset: %v %v", removed, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the directory is still there: %v", err)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o600)
	if _, err := Reset(other); err == nil {
		t.Error("reset of a directory without a lab was accepted")
	}
	if _, err := os.Stat(filepath.Join(other, "notes.txt")); err != nil {
		t.Errorf("reset removed what was not a lab: %v", err)
	}
}
