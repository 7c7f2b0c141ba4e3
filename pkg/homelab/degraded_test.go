package homelab_test

import (
	"context"
	"errors"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/simlab"
	"slices"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeadm"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// N-1: with Proxmox node pve-2 (lb-2, master-3) offline, the plan says so
// and skips their steps; the run builds the rest (lb-1 holding the VIP,
// two of three control planes with two etcd members, the worker) and
// ends with a *DegradedError that names the node and the guests. Nothing
// is moved to pve-1. Once pve-2 is back, the next run builds lb-2 and
// master-3 and ends without error, and a plan after it is clean.
func TestDegradedRunWithANodeDown(t *testing.T) {
	inv := loadInventory(t, "testdata/n1.yaml")
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	ctx := context.Background()
	if err := lab.Proxmox.SetNodeOnline("pve-2", false); err != nil {
		t.Fatal(err)
	}

	p, err := Plan(ctx, inv, fullStack(t), PlanOptions{Clients: lab.Clients()})
	if err != nil {
		t.Fatal(err)
	}
	want := []plan.UnreachableNode{{Node: "pve-2", Guests: []string{"lb-2", "master-3"}}}
	if !slices.EqualFunc(p.Unreachable, want, func(a, b plan.UnreachableNode) bool { return a.Node == b.Node && slices.Equal(a.Guests, b.Guests) }) {
		t.Errorf("unreachable %+v, want %+v", p.Unreachable, want)
	}
	for _, id := range []step.ID{"guest/lb-2", "guest/master-3/boot", "lb/haproxy/lb-2", "kube/prepare/master-3", "kube/join/master-3", "kube/flip/master-3"} {
		if s, ok := p.Step(id); !ok || s.Change.Action != step.Skip || !strings.Contains(s.Change.Reason, "pve-2, which is offline") {
			t.Errorf("%s: %+v", id, s)
		}
	}
	for _, id := range []step.ID{"router/lease/lb-2", "guest/lb-1", "guest/master-2", kubeadm.GateControlPlane} {
		if s, ok := p.Step(id); !ok || s.Change.Action == step.Skip {
			t.Errorf("%s is skipped: %+v", id, s)
		}
	}
	var text strings.Builder
	if err := plan.RenderText(&text, p, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "DEGRADED: Proxmox node pve-2 is offline; its guests lb-2, master-3 are skipped") {
		t.Errorf("the text plan does not say what is skipped:\n%s", text.String())
	}

	var log runLog
	opts := ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event)}
	res, err := Run(ctx, p, opts.RunOptions())
	var de *DegradedError
	if !errors.As(err, &de) {
		t.Fatalf("run: %v, want a *DegradedError\n%s", err, strings.Join(log.lines, "\n"))
	}
	if !slices.Equal(de.Missing(), []string{"lb-2", "master-3"}) || !strings.Contains(de.Error(), "node pve-2 is offline (not built: lb-2, master-3)") {
		t.Errorf("degraded error %q, missing %v", de, de.Missing())
	}
	for _, s := range res.Steps {
		if s.Status != engine.Done {
			t.Errorf("%s: %s %s %v", s.ID, s.Status, s.Reason, s.Err)
		}
	}
	if len(de.Skipped) == 0 || !slices.Contains(de.Skipped, "kube/join/master-3") {
		t.Errorf("skipped %v", de.Skipped)
	}
	for _, vmid := range []int{202, 213} {
		if g, ok := lab.Proxmox.Guest(vmid); ok {
			t.Errorf("vmid %d was made somewhere: %+v", vmid, g)
		}
	}
	if h := lab.Hosts.Holders(ctx, inv.LoadBalancer.VIPs[0].Address); !slices.Equal(h, []string{"lb-1"}) {
		t.Errorf("VIP holders %v", h)
	}
	c, ok := lab.Kube.Cluster()
	if !ok {
		t.Fatal("no cluster")
	}
	if len(c.Members) != 2 || len(c.Nodes) != 3 {
		t.Errorf("degraded cluster: %d etcd members, %d nodes", len(c.Members), len(c.Nodes))
	}

	// The node is back: the next run builds what is missing.
	upWithNodeBack(t, inv, lab, opts, "pve-2")
	if h := lab.Hosts.Holders(ctx, inv.LoadBalancer.VIPs[0].Address); len(h) != 1 {
		t.Errorf("VIP holders %v", h)
	}
	for _, vmid := range []int{202, 213} {
		if g, ok := lab.Proxmox.Guest(vmid); !ok || g.Node != "pve-2" {
			t.Errorf("vmid %d: %+v", vmid, g)
		}
	}
	converged(t, inv, lab, "after pve-2 came back")
}

// A degraded plan that could not end with a working cluster is refused
// before anything changes: two of three control planes, or every load
// balancer, on offline nodes.
func TestDegradedRefusedWithoutQuorum(t *testing.T) {
	inv := loadInventory(t, "testdata/n1.yaml")
	tests := []struct {
		name    string
		offline []string // guests moved to pve-2 before it goes down
		want    string
	}{
		{"two control planes", []string{"master-2"}, "2 of 3 control planes (master-2, master-3) are on offline Proxmox nodes: etcd needs 2 of 3"},
		{"every load balancer", []string{"lb-1"}, "every load balancer (lb-1, lb-2) is on an offline Proxmox node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var missing []string
			for _, g := range inv.Guests {
				if g.Node == "pve-2" || slices.Contains(tt.offline, g.Name) {
					missing = append(missing, g.Name)
				}
			}
			err := CheckQuorum(inv, missing)
			var qe *QuorumError
			if !errors.As(err, &qe) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want a *QuorumError with %q", err, tt.want)
			}
		})
	}
	if err := CheckQuorum(inv, []string{"lb-2", "master-3"}); err != nil {
		t.Errorf("one node down: %v", err)
	}
}

// upWithNodeBack brings the Proxmox node back online and runs up again,
// which must build what the degraded runs left out: the cluster healthy.
func upWithNodeBack(t *testing.T, inv *inventory.Inventory, lab *simlab.Lab, opts ApplyOptions, node string) {
	t.Helper()
	if err := lab.Proxmox.SetNodeOnline(node, true); err != nil {
		t.Fatal(err)
	}
	var back runLog
	opts.Sink = engine.SinkFunc(back.Event)
	if _, _, err := Up(context.Background(), inv, fullStack(t), opts); err != nil {
		t.Fatalf("up with %s back: %v\n%s", node, err, strings.Join(back.lines, "\n"))
	}
	healthy(t, lab)
}
