package plan

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/step"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakeSecret stands for a value that must never be rendered; the plan only
// ever holds step.Redacted for it, and the test proves no view leaks
// anything else.
const fakeSecret = "hunter2-s3cr3t"

// observedPlan is a hand-made plan with every action, a sensitive field,
// a file diff, an assumption, locks and a label that needs escaping.
func observedPlan(t *testing.T) *Plan {
	t.Helper()
	steps := []*step.Step{
		{ID: "router/lease/lb-1", Description: "static lease for lb-1", Intent: step.Change{Action: step.None}},
		{ID: "router/dns/old", Description: "DNS old.lab -> 10.0.0.9", Intent: step.Change{Action: step.Delete,
			Fields: []step.Field{{Name: "address", Old: "10.0.0.9"}}}},
		{ID: "guest/lb-1", Description: "VM lb-1 on pve-1", Needs: []step.ID{"router/lease/lb-1"},
			Locks:  []step.Lock{{Key: "proxmox/node/pve-1", Capacity: 2}},
			Intent: step.Change{Action: step.Update, Fields: []step.Field{{Name: "cores", Old: "2", New: "4"}, {Name: "memory", Old: "2048", New: "4096"}}}},
		{ID: "guest/x|y", Description: `vmid 105 "x" is not ours`, Intent: step.Change{Action: step.Conflict, Reason: "vmid 105 exists without the homelab tag"}},
		{ID: "lb/keepalived/lb-1", Description: "keepalived on lb-1", Needs: []step.ID{"guest/lb-1"},
			Intent: step.Change{Action: step.Update, Fields: []step.Field{{Name: "auth_pass", Old: step.Redacted, New: step.Redacted, Sensitive: true}},
				Files: []step.File{{Host: "lb-1", Path: "/etc/keepalived/keepalived.conf", Mode: "0640",
					Content: "vrrp_instance api {\n  priority 150\n  auth_pass (sensitive)\n}\n",
					Diff:    "--- /etc/keepalived/keepalived.conf\n+++ /etc/keepalived/keepalived.conf\n@@ -1,3 +1,3 @@\n vrrp_instance api {\n-  priority 100\n+  priority 150\n"}}}},
		{ID: "lb/gate/vip/api", Description: "exactly one LB holds the VIP", Needs: []step.ID{"lb/keepalived/lb-1"},
			Intent: step.Change{Action: step.Run, Reason: "a gate: checked on every run"}},
		{ID: "kube/init/m1", Description: "kubeadm init on m1", Needs: []step.ID{"guest/m1/boot", "lb/gate/vip/api"},
			Intent: step.Change{Action: step.Create, Fields: []step.Field{step.Set("controlPlaneEndpoint", "k8s:6443"), step.SensitiveField("certificateKey")},
				Files: []step.File{{Host: "m1", Path: "/etc/homelab/kubeadm.yaml", Mode: "0600", Content: "certificateKey: (sensitive)\n```inside```\n"}}}},
		{ID: "guest/m1/boot", Description: "boot m1", Intent: step.Change{Action: step.Run}},
	}
	kinds := []PhaseKind{
		fakeKind{kind: "network", steps: steps[:2]},
		fakeKind{kind: "guests", steps: []*step.Step{steps[2], steps[3], steps[7]}},
		fakeKind{kind: "loadbalancers", steps: steps[4:6]},
		fakeKind{kind: "kubernetes", steps: steps[6:7]},
	}
	p, err := Compile(testInv, planFile(t, "name: review\nphases: [network, guests, loadbalancers, kubernetes]"), registry(t, kinds...))
	if err != nil {
		t.Fatal(err)
	}
	p.Observed = true
	return p
}

func offlinePlan(t *testing.T) *Plan {
	t.Helper()
	p, err := Compile(testInv, planFile(t, "name: apps-only\nphases: [apps]"), registry(t, threeKinds()...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "render", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/plan -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file (go test ./pkg/plan -update rewrites it; review the diff):\n%s", path, got)
	}
}

func TestRenderingsGolden(t *testing.T) {
	plans := map[string]*Plan{"observed": observedPlan(t), "offline": offlinePlan(t)}
	renders := []struct {
		ext    string
		render func(*bytes.Buffer, *Plan) error
	}{
		{"txt", func(b *bytes.Buffer, p *Plan) error { return RenderText(b, p, TextOptions{}) }},
		{"color.txt", func(b *bytes.Buffer, p *Plan) error { return RenderText(b, p, TextOptions{Color: true}) }},
		{"md", func(b *bytes.Buffer, p *Plan) error { return RenderMarkdown(b, p) }},
		{"mmd", func(b *bytes.Buffer, p *Plan) error { return RenderMermaid(b, p) }},
		{"json", func(b *bytes.Buffer, p *Plan) error { return RenderJSON(b, p) }},
	}
	for name, p := range plans {
		for _, r := range renders {
			t.Run(name+"."+r.ext, func(t *testing.T) {
				var b bytes.Buffer
				if err := r.render(&b, p); err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(b.Bytes(), []byte(fakeSecret)) {
					t.Fatal("a rendering shows a secret")
				}
				checkGolden(t, name+"."+r.ext, b.Bytes())
			})
		}
	}
}

func TestMermaidHasEveryStepAndEdge(t *testing.T) {
	p := observedPlan(t)
	var b bytes.Buffer
	if err := RenderMermaid(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if got, want := strings.Count(out, " --> "), len(p.Graph().Edges()); got != want {
		t.Errorf("%d edges drawn, the graph has %d", got, want)
	}
	nodes := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if id, _, ok := strings.Cut(line, `["`); ok && !strings.HasPrefix(line, "subgraph") {
			if nodes[id] {
				t.Errorf("node id %s used twice", id)
			}
			nodes[id] = true
		}
	}
	if len(nodes) != len(p.Steps) {
		t.Errorf("%d nodes for %d steps", len(nodes), len(p.Steps))
	}
	if !strings.Contains(out, `"! guest/x|y"`) || strings.Contains(out, `"x"`) {
		t.Error("labels are not escaped")
	}
}

func TestRenderDispatch(t *testing.T) {
	p := offlinePlan(t)
	for _, f := range Formats() {
		var b bytes.Buffer
		if err := Render(&b, p, f, false); err != nil || b.Len() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := Render(&bytes.Buffer{}, p, "yaml", false); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestSavedPlanRoundTrip(t *testing.T) {
	p := observedPlan(t)
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := Save(path, p); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := ReadSaved(f)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	RenderJSON(&a, p)
	RenderJSON(&b, back)
	if a.String() != b.String() {
		t.Error("a saved plan does not read back the same")
	}
	if _, err := ReadSaved(strings.NewReader(`{"format_version": 99}`)); err == nil || !strings.Contains(err.Error(), "format_version 99") {
		t.Errorf("err = %v", err)
	}
}
