package homelab

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/internal/inventorygen"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

func compile(t testing.TB, invPath, planPath string) *plan.Plan {
	t.Helper()
	inv, _, err := Load(context.Background(), invPath)
	if err != nil {
		t.Fatal(err)
	}
	file, err := plan.LoadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(context.Background(), inv, file, PlanOptions{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// needsTransitively reports whether step from (transitively) needs to.
func needsTransitively(g *step.Graph, from, to step.ID) bool {
	seen := map[step.ID]bool{}
	var walk func(id step.ID) bool
	walk = func(id step.ID) bool {
		if seen[id] {
			return false
		}
		seen[id] = true
		s, _ := g.Step(id)
		for _, n := range s.Needs {
			if n == to || walk(n) {
				return true
			}
		}
		return false
	}
	return walk(from)
}

func TestReferenceLabPlan(t *testing.T) {
	p := compile(t, "../../inventories/rachuna-net.yaml", "../../plans/full-stack.yaml")
	g := p.Graph()
	if p.Observed {
		t.Error("no phase observes yet: the plan must say it was not observed")
	}
	var kinds []string
	for _, ph := range p.Phases {
		kinds = append(kinds, ph.Kind)
	}
	if strings.Join(kinds, ",") != "network,guests,loadbalancers,kubernetes" {
		t.Fatalf("phases %v", kinds)
	}

	// 15 guests, each created and booted; each boot waits for its lease.
	guests := 0
	for _, s := range g.Steps() {
		if strings.HasPrefix(string(s.ID), "guest/") && !strings.HasSuffix(string(s.ID), "/boot") {
			guests++
			boot, ok := g.Step(s.ID + "/boot")
			if !ok {
				t.Fatalf("%s has no boot step", s.ID)
			}
			lease := step.LeaseID(strings.TrimPrefix(string(s.ID), "guest/"))
			if !needsTransitively(g, boot.ID, lease) {
				t.Errorf("%s does not wait for %s", boot.ID, lease)
			}
		}
	}
	if guests != 15 {
		t.Errorf("%d guests, want 15", guests)
	}

	// VMs cloned from the same template copy share a lock of capacity 1.
	holders := map[string]int{}
	for _, s := range g.Steps() {
		for _, l := range s.Locks {
			if strings.HasPrefix(l.Key, "proxmox/template/") {
				if l.Capacity != 1 {
					t.Errorf("%s: template lock capacity %d", s.ID, l.Capacity)
				}
				holders[l.Key]++
			}
		}
	}
	if holders["proxmox/template/pve-s1/9001"] != 4 { // lb-1, master-1, worker-1, worker-4
		t.Errorf("template holders %v", holders)
	}

	// The load balancer on lb-1 waits for its guest and lease, not for others.
	if !needsTransitively(g, step.HAProxyID("lb-1"), step.LeaseID("lb-1")) ||
		needsTransitively(g, step.HAProxyID("lb-1"), step.GuestBootID("lb-2")) {
		t.Error("lb/haproxy/lb-1 needs are not fine-grained")
	}
}

// No client is pointed at the VIP before the VIP gate, and master1 is
// initialised before anything joins.
func TestKubernetesSequenceOrder(t *testing.T) {
	p := compile(t, "../../inventories/rachuna-net.yaml", "../../plans/full-stack.yaml")
	g := p.Graph()
	gate := step.ID("kube/gate/vip-ready")
	for _, s := range g.Steps() {
		id := string(s.ID)
		pointsAtVIP := strings.HasPrefix(id, "kube/flip/") || id == "kube/restart/kube-proxy" ||
			id == "kube/kubeconfig" || strings.HasPrefix(id, "kube/join/worker-")
		if pointsAtVIP && !needsTransitively(g, s.ID, gate) {
			t.Errorf("%s can run before %s", id, gate)
		}
		if strings.HasPrefix(id, "kube/join/master-") {
			if needsTransitively(g, s.ID, gate) {
				t.Errorf("%s must join through master1, before the VIP gate", id)
			}
			if !needsTransitively(g, s.ID, "kube/gate/apiserver/master-1") {
				t.Errorf("%s does not wait for master1's apiserver", id)
			}
		}
	}
	for _, lb := range []string{"lb-1", "lb-2", "lb-3"} {
		if !needsTransitively(g, gate, step.HAProxyID(lb)) {
			t.Errorf("the VIP gate does not wait for %s", step.HAProxyID(lb))
		}
	}
	// Control-plane joins are serialised on etcd membership.
	for _, id := range []step.ID{"kube/init/master-1", "kube/join/master-2", "kube/join/master-3"} {
		s, _ := g.Step(id)
		if len(s.Locks) != 1 || s.Locks[0] != (step.Lock{Key: "kube/etcd-membership", Capacity: 1}) {
			t.Errorf("%s locks %v", id, s.Locks)
		}
	}
}

// Sensitive values are marked, so no rendering can show them.
func TestSecretsAreSensitiveFields(t *testing.T) {
	p := compile(t, "../../inventories/small.yaml", "../../plans/full-stack.yaml")
	want := map[string]bool{"lb/keepalived/lb-1:auth_pass": false, "kube/init/master-1:bootstrapToken": false, "kube/init/master-1:certificateKey": false}
	for _, s := range p.Steps {
		for _, f := range s.Change.Fields {
			key := string(s.ID) + ":" + f.Name
			if _, ok := want[key]; ok {
				want[key] = f.Sensitive && f.New == step.Redacted
			}
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("%s is not a redacted sensitive field", k)
		}
	}
}

// BenchmarkPlan1000Guests compiles a generated inventory of 1,000 guests on
// 30 nodes into the full plan: loading and validation, the check Plan
// makes, then compiling (check included).
func BenchmarkPlan1000Guests(b *testing.B) {
	data := inventorygen.Generate(30, 1000)
	file, err := plan.ParseFile("full-stack.yaml", []byte("phases: [network, guests, loadbalancers, kubernetes]"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := inventory.Parse("generated.yaml", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	inv, _, err := inventory.Parse("generated.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	// Plan checks the inventory first (Inventory.Check): its share.
	b.Run("check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if diags := inv.Check(); len(diags) != 0 {
				b.Fatal(diags)
			}
		}
	})
	b.Run("compile", func(b *testing.B) {
		b.ReportAllocs()
		var steps int
		for b.Loop() {
			p, err := Plan(context.Background(), inv, file, PlanOptions{Offline: true})
			if err != nil {
				b.Fatal(err)
			}
			steps = len(p.Steps)
		}
		b.ReportMetric(float64(steps), "steps/plan")
	})
}

// The Mermaid view of the reference plan draws every step and every need.
func TestReferenceMermaidHasEveryStepAndEdge(t *testing.T) {
	p := compile(t, "../../inventories/rachuna-net.yaml", "../../plans/full-stack.yaml")
	var b strings.Builder
	if err := plan.RenderMermaid(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if got, want := strings.Count(out, " --> "), len(p.Graph().Edges()); got != want || want == 0 {
		t.Errorf("%d edges drawn, the graph has %d", got, want)
	}
	for _, s := range p.Steps {
		if !strings.Contains(out, " "+string(s.ID)+`"]`) {
			t.Errorf("step %s is not drawn", s.ID)
		}
	}
}

// With pin: router-dns the kubernetes phase owns the endpoint's router
// record (pinned to master1, then flipped); the network phase leaves it
// alone, and no node gets an /etc/hosts pin.
func TestRouterDNSPinning(t *testing.T) {
	data, err := os.ReadFile("../../inventories/rachuna-net.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err := inventory.Parse("router-dns.yaml", []byte(strings.Replace(string(data), "pin: hosts", "pin: router-dns", 1)))
	if err != nil {
		t.Fatal(err)
	}
	file, _ := plan.ParseFile("full.yaml", []byte("phases: [network, guests, loadbalancers, kubernetes]"))
	p, err := Plan(context.Background(), inv, file, PlanOptions{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	g := p.Graph()
	if _, ok := g.Step(step.DNSRecordID("k8s-api.rachuna-net.pl")); ok {
		t.Error("the network phase also manages the endpoint's record")
	}
	for _, s := range g.Steps() {
		if strings.HasPrefix(string(s.ID), "kube/pin/") && s.ID != "kube/pin/router-dns" {
			t.Errorf("unexpected hosts pin %s", s.ID)
		}
	}
	if !needsTransitively(g, "kube/join/worker-1", "kube/flip/router-dns") ||
		!needsTransitively(g, "kube/flip/router-dns", "kube/gate/vip-ready") ||
		!needsTransitively(g, "kube/init/master-1", "kube/pin/router-dns") {
		t.Error("the router record is not pinned before init and flipped after the VIP gate")
	}
}
