package homelab_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/simlab"
	"github.com/homelabctl/homelab/pkg/step"
)

// ctKeyWatch checks, when a container's create step is done (before its
// boot step first connects), that known_hosts already holds the
// fingerprint of the key the PVE simulator logged for it, and that the
// container's SSH server has not been connected to yet.
type ctKeyWatch struct {
	t    *testing.T
	lab  *simlab.Lab
	inv  *inventory.Inventory
	out  *outputSink
	seen map[string]bool
	// base is each host's SSH connection count when the run began.
	base map[string]int
}

// begin readies the watch for a run.
func (w *ctKeyWatch) begin() {
	w.seen, w.base = map[string]bool{}, map[string]int{}
	for _, h := range w.lab.Hosts.Hosts() {
		w.base[h.Name()] = h.SSH().Connections()
	}
}

func (w *ctKeyWatch) Event(e engine.Event) {
	w.out.Event(e)
	if e.Kind != engine.StepDone {
		return
	}
	for _, g := range w.inv.Guests {
		if g.Kind != inventory.KindLXC || e.Step != step.GuestID(g.Name) {
			continue
		}
		pg, _ := w.lab.Proxmox.Guest(g.VMID)
		signer, err := ssh.ParsePrivateKey(pg.HostKey)
		if err != nil {
			w.t.Errorf("%s: %v", g.Name, err)
			return
		}
		known, _ := os.ReadFile(w.lab.Access().KnownHosts)
		h, _ := w.lab.Hosts.Host(g.Name)
		want := "# homelab: expect " + knownhosts.Normalize(h.Addr()) + " " + ssh.FingerprintSHA256(signer.PublicKey()) + " from the create task log"
		if !strings.Contains(string(known), want) {
			w.t.Errorf("after creating %s, known_hosts lacks %q:\n%s", g.Name, want, known)
		}
		if n := h.SSH().Connections() - w.base[g.Name]; n != 0 {
			w.t.Errorf("%s was connected to %d times before its key was recorded", g.Name, n)
		}
		w.seen[g.Name] = true
	}
}

// TestDownThenUpConverges: after `down`, `up` builds the lab again with
// no manual step, although every guest is a new machine (new host keys,
// blank disk): down forgot the old keys, a container's new key is
// learned from its create task log before anything connects to it, a
// VM's (no guest agent in the template) is trusted on first use and the
// output says so. Containers get nesting=1 and PVE warns about nothing.
func TestDownThenUpConverges(t *testing.T) {
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	ctx := context.Background()
	file := infraAndLoadBalancers(t)
	var out outputSink
	watch := &ctKeyWatch{t: t, lab: lab, inv: inv, out: &out}
	watch.begin()
	opts := ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(watch.Event)}
	if _, _, err := Up(ctx, inv, file, opts); err != nil {
		t.Fatalf("up: %v\n%s", err, strings.Join(out.lines, "\n"))
	}
	removals, err := DownPlan(ctx, inv, lab.Clients())
	if err != nil {
		t.Fatal(err)
	}
	var downOut strings.Builder
	if err := Down(ctx, removals, &downOut); err != nil {
		t.Fatal(err)
	}
	known, _ := os.ReadFile(lab.Access().KnownHosts)
	if strings.TrimSpace(string(known)) != "" {
		t.Errorf("down left known_hosts entries:\n%s", known)
	}
	if !strings.Contains(downOut.String(), "forgot the SSH host keys of lb-1") {
		t.Errorf("down's output:\n%s", downOut.String())
	}

	out = outputSink{}
	watch.begin()
	if _, _, err := Up(ctx, inv, file, opts); err != nil {
		t.Fatalf("up after down: %v\n%s", err, strings.Join(out.lines, "\n"))
	}
	all := strings.Join(out.lines, "\n")
	known, _ = os.ReadFile(lab.Access().KnownHosts)
	for _, g := range inv.Guests {
		h, _ := lab.Hosts.Host(g.Name)
		line := knownhosts.Line([]string{h.Addr()}, h.HostKey())
		if !strings.Contains(string(known), line) {
			t.Errorf("known_hosts lacks %s's key", g.Name)
		}
		fp := ssh.FingerprintSHA256(h.HostKey())
		switch g.Kind {
		case inventory.KindLXC:
			if !watch.seen[g.Name] {
				t.Errorf("%s: its create step was not seen", g.Name)
			}
			if !strings.Contains(all, "guest/"+g.Name+"/boot: host key "+fp+" of "+g.Name+" matches the create task log") {
				t.Errorf("%s: the output does not say its key came from the create task log", g.Name)
			}
			pg, _ := lab.Proxmox.Guest(g.VMID)
			if pg.Config["features"] != "nesting=1" {
				t.Errorf("%s: features %q, want nesting=1", g.Name, pg.Config["features"])
			}
		default:
			if !strings.Contains(all, "guest/"+g.Name+"/boot: trusting host key "+fp+" of "+g.Name+" on first use") {
				t.Errorf("%s: the output does not say its key was trusted on first use", g.Name)
			}
		}
	}
	if strings.Contains(all, "warning:") {
		t.Errorf("a warning with nesting on:\n%s", all)
	}

	// A key that changes on a guest homelab did not re-create is refused,
	// naming the host and both fingerprints.
	h, _ := lab.Hosts.Host("lb-1")
	old := ssh.FingerprintSHA256(h.HostKey())
	if err := h.SSH().RotateHostKey(); err != nil {
		t.Fatal(err)
	}
	lab.Clients().CloseSSH()
	cfg, err := lab.Clients().HostConfig("lb-1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.NewPool(remote.Options{}).CheckHostKey(ctx, cfg)
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || !hk.Changed || !strings.Contains(err.Error(), "lb-1") || !strings.Contains(err.Error(), old) ||
		!strings.Contains(err.Error(), ssh.FingerprintSHA256(h.HostKey())) {
		t.Errorf("a changed key: %v", err)
	}
}

// TestContainerWithoutNestingWarns: a container the inventory wants
// without nesting is created, and PVE's warning is in the step's output.
func TestContainerWithoutNestingWarns(t *testing.T) {
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	off := false
	for i := range inv.Guests {
		if inv.Guests[i].Name == "ct01005" {
			inv.Guests[i].Nesting = &off
		}
	}
	lab := guestsLab(t, inv)
	file, err := plan.LoadFile("../../plans/infrastructure.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out outputSink
	if _, _, err := Up(context.Background(), inv, file, ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(out.Event)}); err != nil {
		t.Fatalf("up: %v\n%s", err, strings.Join(out.lines, "\n"))
	}
	all := strings.Join(out.lines, "\n")
	want := "guest/ct01005: warning: create container ct01005: Systemd 252 detected. You may need to enable nesting."
	if !strings.Contains(all, want) {
		t.Errorf("the output lacks %q:\n%s", want, all)
	}
	if n := strings.Count(all, "warning:"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, all)
	}
}
