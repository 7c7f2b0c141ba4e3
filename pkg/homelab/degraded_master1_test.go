package homelab_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/sim/kube"
	"github.com/homelabctl/homelab/pkg/simlab"
	"github.com/homelabctl/homelab/pkg/step"
)

// N-1 with master-1's node down: testdata/n1.yaml with master-1 and
// master-3 swapped, so that pve-2 holds lb-2 and master-1. On a built lab
// worker-1 is lost and pve-2 goes offline. The next run skips lb-2 and
// master-1, rebuilds worker-1 and joins it through another control plane
// (the token is made on master-2 or master-3, nothing is asked of
// master-1), and ends with a *DegradedError naming pve-2, lb-2 and
// master-1. Once pve-2 is back, master-1 is a voting member again and a
// plan is clean.
func TestDegradedRunWithMaster1sNodeDown(t *testing.T) {
	data, err := os.ReadFile("testdata/n1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "node: pve-1\n    vmid: 211", "node: pve-2\n    vmid: 211", 1)
	text = strings.Replace(text, "node: pve-2\n    vmid: 213", "node: pve-1\n    vmid: 213", 1)
	path := filepath.Join(t.TempDir(), "n1.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := loadInventory(t, path)
	if g, _ := inv.Guest("master-1"); g.Node != "pve-2" {
		t.Fatalf("master-1 is on %s", g.Node)
	}
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	ctx := context.Background()
	upFull(t, inv, lab, "up")
	downGuests(t, inv, lab, "worker-1")
	if err := lab.Proxmox.SetNodeOnline("pve-2", false); err != nil {
		t.Fatal(err)
	}
	master1, _ := lab.Hosts.Host("master-1")
	before := len(master1.SSH().Log())

	var log runLog
	opts := ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event)}
	p, res, err := Up(ctx, inv, fullStack(t), opts)
	var de *DegradedError
	if !errors.As(err, &de) {
		t.Fatalf("up: %v, want a *DegradedError\n%s", err, strings.Join(log.lines, "\n"))
	}
	if !slices.Equal(de.Missing(), []string{"lb-2", "master-1"}) || !strings.Contains(de.Error(), "node pve-2 is offline (not built: lb-2, master-1)") {
		t.Errorf("degraded error %q, missing %v", de, de.Missing())
	}
	for _, id := range []step.ID{"kube/init/master-1", "kube/flip/master-1", "guest/lb-2"} {
		if s, ok := p.Step(id); !ok || s.Change.Action != step.Skip {
			t.Errorf("%s is not skipped: %+v", id, s)
		}
	}
	for _, s := range res.Steps {
		if s.Status != engine.Done {
			t.Errorf("%s: %s %s %v", s.ID, s.Status, s.Reason, s.Err)
		}
	}
	if log.index("kube/join/worker-1") < 0 {
		t.Errorf("worker-1 was not joined:\n%s", strings.Join(log.lines, "\n"))
	}
	if got := master1.SSH().Log()[before:]; len(got) > 0 {
		t.Errorf("commands ran on master-1, whose node is offline: %q", got)
	}
	token := ""
	for _, m := range []string{"master-2", "master-3"} {
		h, _ := lab.Hosts.Host(m)
		for _, c := range h.SSH().Log() {
			if strings.Contains(c, "kubeadm token create") {
				token = m
			}
		}
	}
	if token == "" {
		t.Error("no control plane but master-1 made worker-1's join token")
	}
	c, ok := lab.Kube.Cluster()
	if !ok {
		t.Fatal("no cluster")
	}
	if len(c.Members) != 3 || len(c.Nodes) != 4 {
		t.Errorf("degraded cluster: %d etcd members, %d nodes", len(c.Members), len(c.Nodes))
	}
	if i := slices.IndexFunc(c.Nodes, func(n kube.Node) bool { return n.Name == "worker-1" }); i < 0 || !c.Nodes[i].Ready {
		t.Errorf("worker-1 after the degraded run: %+v", c.Nodes)
	}

	upWithNodeBack(t, inv, lab, opts, "pve-2")
	converged(t, inv, lab, "after pve-2 came back")
}
