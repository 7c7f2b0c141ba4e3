package plan

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/step"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakeSecret stands for a secret that must never be rendered. The golden
// plans hold step.Redacted in their sensitive fields, as compiled plans do;
// TestRenderersNeverShowSensitiveValues puts fakeSecret there instead and
// proves that the views still show only step.Redacted.
const fakeSecret = "hunter2-s3cr3t"

// renderCase is a hand-made plan, the counts it must summarise to, what
// its text must say about observing, and the golden files its renderings
// are pinned in (testdata/render/<name>.*).
type renderCase struct {
	name string
	plan func(t *testing.T) *Plan
	want Summary
	says string
}

func renderCases() []renderCase {
	return []renderCase{
		{"offline", offlinePlan, Summary{Create: 5, Run: 4}, "NOT OBSERVED: the lab was not read"},
		{"observed", observedPlan, Summary{Create: 2, Update: 2, Delete: 3, Replace: 1, Run: 2, None: 3, Conflict: 1}, "Observed: every step read the lab"},
		{"converged", convergedPlan, Summary{None: 9}, "No changes: the lab already matches the inventory."},
		{"awkward", awkwardPlan, Summary{Create: 4, Update: 1, Conflict: 1, None: 1}, "PARTLY OBSERVED: 3 of 7 steps read the lab"},
	}
}

// offlinePlan is a plan compiled without observing: creates and runs in
// three phases, with needs across phases, assumptions on a phase the plan
// does not run, locks, files and a sensitive field.
func offlinePlan(t *testing.T) *Plan {
	t.Helper()
	pve := step.Lock{Key: "proxmox/node/pve-1", Capacity: 2}
	tmpl := step.Lock{Key: "proxmox/template/debian-12", Capacity: 1}
	create := func(fields []step.Field, files ...step.File) step.Change {
		return step.Change{Action: step.Create, Fields: fields, Files: files}
	}
	gate := step.Change{Action: step.Run, Reason: "a gate: checked on every run"}
	boot := step.Change{Action: step.Run, Reason: "started and waited for on every run until it answers"}
	kinds := []PhaseKind{
		fakeKind{kind: "network", steps: []*step.Step{
			{ID: "router/lease/lb-1", Description: "static lease for lb-1", Intent: create(nil)},
			{ID: "router/lease/m1", Description: "static lease for m1", Intent: create(nil)},
		}},
		fakeKind{kind: "guests", steps: []*step.Step{
			{ID: "guest/lb-1", Description: "clone VM lb-1 (1201) on pve-1", Needs: []step.ID{"router/lease/lb-1"}, Locks: []step.Lock{pve, tmpl},
				Intent: create([]step.Field{step.Set("node", "pve-1"), step.Set("vmid", "1201"), step.Set("memory", "2048 MiB")})},
			{ID: "guest/lb-1/boot", Description: "start lb-1 and wait for SSH", Needs: []step.ID{"guest/lb-1"}, Intent: boot},
			{ID: "guest/m1", Description: "clone VM m1 (1301) on pve-1", Needs: []step.ID{"router/lease/m1"}, Locks: []step.Lock{pve, tmpl},
				Intent: create([]step.Field{step.Set("node", "pve-1"), step.Set("vmid", "1301")})},
			{ID: "guest/m1/boot", Description: "start m1 and wait for SSH", Needs: []step.ID{"guest/m1"}, Intent: boot},
		}},
		fakeKind{kind: "loadbalancers", steps: []*step.Step{
			{ID: "lb/haproxy/lb-1", Description: "install haproxy.cfg on lb-1", Needs: []step.ID{"guest/lb-1/boot"},
				Intent: create([]step.Field{step.Set("frontend api", "10.0.0.10:6443 -> 10.0.0.41:6443")},
					step.File{Host: "lb-1", Path: "/etc/haproxy/haproxy.cfg", Mode: "0644",
						Content: "# managed by homelab\nfrontend api\n  bind 10.0.0.10:6443\n  default_backend api\n"})},
			{ID: "lb/keepalived/lb-1", Description: "install keepalived.conf on lb-1", Needs: []step.ID{"lb/haproxy/lb-1"},
				Intent: create([]step.Field{step.Set("vrrp_instance api", "vrid 51 priority 150"), step.SensitiveField("auth_pass")},
					step.File{Host: "lb-1", Path: "/etc/keepalived/keepalived.conf", Mode: "0640",
						Content: "vrrp_instance api {\n  virtual_router_id 51\n  auth_pass (sensitive)\n}"})},
			{ID: "lb/gate/vip/api", Description: "wait until exactly one LB holds VIP api", Needs: []step.ID{"lb/keepalived/lb-1"}, Intent: gate},
		}},
		fakeKind{kind: "kubernetes", steps: []*step.Step{
			{ID: "kube/init/m1", Description: "kubeadm init on m1", Needs: []step.ID{"guest/m1/boot", "lb/gate/vip/api"},
				Intent: create([]step.Field{step.Set("controlPlaneEndpoint", "k8s-api.lab:6443"), step.SensitiveField("certificateKey")},
					step.File{Host: "m1", Path: "/etc/homelab/kubeadm.yaml", Mode: "0600",
						Content: "# a fence inside: ```\ncontrolPlaneEndpoint: k8s-api.lab:6443\ncertificateKey: (sensitive)\n"})},
			{ID: "kube/gate/api-ready", Description: "wait until https://m1:6443/readyz answers ok", Needs: []step.ID{"kube/init/m1"}, Intent: gate},
		}},
	}
	p, err := Compile(testInv, planFile(t, "name: build\nphases: [guests, loadbalancers, {kind: kubernetes, name: cluster}]"), registry(t, kinds...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// observedPlan is a plan whose steps read the lab: every action, a
// sensitive field changing, a file diff, a deleted file, a replace and a
// conflict.
func observedPlan(t *testing.T) *Plan {
	t.Helper()
	steps := []*step.Step{
		{ID: "router/lease/lb-1", Description: "static lease for lb-1", Intent: step.Change{Action: step.None}},
		{ID: "router/lease/m1", Description: "static lease for m1", Intent: step.Change{Action: step.None}},
		{ID: "router/dns/old", Description: "DNS old.lab -> 10.0.0.9 (no longer in the inventory)", Intent: step.Change{Action: step.Delete,
			Fields: []step.Field{{Name: "name", Old: "old.lab"}, {Name: "address", Old: "10.0.0.9"}}}},
		{ID: "guest/lb-1", Description: "VM lb-1 on pve-1", Needs: []step.ID{"router/lease/lb-1"},
			Locks: []step.Lock{{Key: "proxmox/node/pve-1", Capacity: 2}},
			Intent: step.Change{Action: step.Update, Fields: []step.Field{
				{Name: "cores", Old: "2", New: "4"}, {Name: "memory", Old: "2048 MiB", New: "4096 MiB"}, {Name: "description", New: "homelab"}}}},
		{ID: "guest/x|y", Description: `vmid 105 "x" is not ours`, Intent: step.Change{Action: step.Conflict,
			Reason: "vmid 105 exists without the homelab tag", Fields: []step.Field{{Name: "name", Old: "x", New: "lb-2"}}}},
		{ID: "guest/m2", Description: "VM m2 on pve-1", Intent: step.Change{Action: step.Replace,
			Fields: []step.Field{{Name: "net0", Old: "virtio=02:00:00:00:00:02,bridge=vmbr0,tag=30", New: "virtio=02:00:00:00:00:02,bridge=vmbr0,tag=31"}},
			Reason: "replaced as asked: net0 cannot change in place (the guest runs); the guest is stopped, deleted and created again"}},
		{ID: "guest/m1/boot", Description: "start m1", Intent: step.Change{Action: step.None}},
		{ID: "lb/keepalived/lb-1", Description: "keepalived on lb-1", Needs: []step.ID{"guest/lb-1"},
			Intent: step.Change{Action: step.Update, Fields: []step.Field{{Name: "auth_pass", Old: step.Redacted, New: step.Redacted, Sensitive: true}},
				Files: []step.File{{Host: "lb-1", Path: "/etc/keepalived/keepalived.conf", Mode: "0640",
					Content: "vrrp_instance api {\n  priority 150\n  auth_pass (sensitive)\n}\n",
					Diff: "--- lb-1:/etc/keepalived/keepalived.conf\n+++ /etc/keepalived/keepalived.conf\n@@ -1,3 +1,3 @@\n" +
						" vrrp_instance api {\n-  priority 100\n+  priority 150\n   auth_pass (sensitive)\n"}}}},
		{ID: "lb/sysctl/lb-9", Description: "remove the sysctl of lb-9 (gone from the inventory)", Intent: step.Change{Action: step.Delete,
			Files: []step.File{{Host: "lb-9", Path: "/etc/sysctl.d/90-homelab.conf", Mode: "0644", Content: "net.ipv4.ip_nonlocal_bind = 1\n"}}}},
		{ID: "lb/gate/vip/api", Description: "exactly one LB holds the VIP", Needs: []step.ID{"lb/keepalived/lb-1"},
			Intent: step.Change{Action: step.Run, Reason: "a gate: checked on every run"}},
		{ID: "kube/init/m1", Description: "kubeadm init on m1", Needs: []step.ID{"guest/m1/boot", "lb/gate/vip/api"},
			Intent: step.Change{Action: step.Create, Fields: []step.Field{step.Set("controlPlaneEndpoint", "k8s:6443"), step.SensitiveField("certificateKey")},
				Files: []step.File{{Host: "m1", Path: "/etc/homelab/kubeadm.yaml", Mode: "0600", Content: "certificateKey: (sensitive)\n```inside```\n"}}}},
		{ID: "kube/gate/ready", Description: "the API answers", Needs: []step.ID{"kube/init/m1"}, Intent: step.Change{Action: step.Run}},
	}
	kinds := []PhaseKind{
		fakeKind{kind: "network", steps: steps[:3]},
		fakeKind{kind: "guests", steps: steps[3:7]},
		fakeKind{kind: "loadbalancers", steps: steps[7:10]},
		fakeKind{kind: "kubernetes", steps: steps[10:]},
	}
	p, err := Compile(testInv, planFile(t, "name: review\nphases: [network, guests, loadbalancers, kubernetes]"), registry(t, kinds...))
	if err != nil {
		t.Fatal(err)
	}
	markObserved(p)
	p.Backup = &Backup{ControlPlanes: []string{"m2"}, Dir: "~/k8s-backups"}
	return p
}

// convergedPlan is the offline plan observed on a lab that already matches
// it: nothing to do.
func convergedPlan(t *testing.T) *Plan {
	p := offlinePlan(t)
	for i := range p.Steps {
		p.Steps[i].Change = step.Change{Action: step.None}
	}
	markObserved(p)
	return p
}

// awkwardPlan is built by hand (as a saved plan read back might be) to
// hold every character the views must escape: Markdown and Mermaid
// metacharacters, HTML, quotes, backticks, an escape sequence, newlines and
// an ID that sanitises to another ID. Only some steps observed; one phase
// is empty.
func awkwardPlan(*testing.T) *Plan {
	ids := []step.ID{"odd/a-b", "odd/a.b", `odd/"quoted"|pipe`, "odd/`tick`", "odd/<b>&amp;#35;", "odd/esc\x1b[31mred", "odd/ünï"}
	p := &Plan{
		FormatVersion: FormatVersion,
		Inventory:     Source{Name: "lab *bold*", Path: "inventories/lab.yaml", Digest: "sha256:0123456789abcdef0123456789abcdef"},
		PlanFile:      Source{Name: "odd|plan"},
		Phases: []Phase{
			{Name: "we|rd \"one\"", Kind: "odd", Description: "# not a heading: [not](a link) $x$ ~~no~~ <i>no</i>", Steps: ids[:4]},
			{Name: "empty", Kind: "empty", Description: "nothing here"},
			{Name: "odd2", Kind: "odd", Description: "more\nlines\r\nhere", Steps: ids[4:]},
		},
	}
	add := func(id step.ID, phase, desc string, needs []step.ID, assumes []step.ID, c step.Change) {
		p.Steps = append(p.Steps, Step{ID: id, Phase: phase, Description: desc, Needs: needs, Assumes: assumes, Change: c})
	}
	add(ids[0], p.Phases[0].Name, "dash | pipe", nil, []step.ID{"outside/x", `outside/"y"`}, step.Change{Action: step.Create,
		Fields: []step.Field{step.Set("cmd", "a | b && `c`"), step.Set("multi", "line1\nline2"), step.Set("empty", "")}})
	add(ids[1], p.Phases[0].Name, "dot *star* _under_", []step.ID{ids[0]}, []step.ID{"outside/x"}, step.Change{Action: step.Update,
		Fields: []step.Field{{Name: "name|x", Old: "", New: "b"}, {Name: "token", Old: step.Redacted, New: step.Redacted, Sensitive: true}}})
	add(ids[2], p.Phases[0].Name, `a "quoted" <tag> & more`, []step.ID{ids[0], ids[1]}, nil, step.Change{Action: step.Conflict,
		Reason: "it is | not ours\nsecond line"})
	add(ids[3], p.Phases[0].Name, "back`ticks`", []step.ID{ids[2]}, nil, step.Change{Action: step.None})
	add(ids[4], p.Phases[2].Name, "html <script>alert(1)</script>", []step.ID{ids[3]}, nil, step.Change{Action: step.Create,
		Files: []step.File{{Host: "h<1>", Path: "/etc/odd.conf", Mode: "0644", Content: "````\n</details>\n<script>x</script>\n````"}}})
	add(ids[5], p.Phases[2].Name, "escape \x1b[2J sequence", []step.ID{ids[4]}, nil, step.Change{Action: step.Create,
		Fields: []step.Field{step.Set("bell", "\a\x1b]0;title\a")}})
	add(ids[6], p.Phases[2].Name, "non-ASCII ID, bidi \u202e override", []step.ID{ids[5], ids[0]}, nil, step.Change{Action: step.Create})
	for i := range p.Steps[:3] {
		p.Steps[i].ObservedDigest = digest(p.Steps[i].Change)
	}
	return p
}

// markObserved records every step as observed, as Observe would.
func markObserved(p *Plan) {
	for i := range p.Steps {
		p.Steps[i].ObservedDigest = digest(p.Steps[i].Change)
	}
	p.Observed = true
}

// rendering is one of the plan's five views, by golden file extension.
type rendering struct {
	ext    string
	render func(*bytes.Buffer, *Plan) error
}

func renderings() []rendering {
	return []rendering{
		{"txt", func(b *bytes.Buffer, p *Plan) error { return RenderText(b, p, TextOptions{}) }},
		{"color.txt", func(b *bytes.Buffer, p *Plan) error { return RenderText(b, p, TextOptions{Color: true}) }},
		{"md", func(b *bytes.Buffer, p *Plan) error { return RenderMarkdown(b, p) }},
		{"mmd", func(b *bytes.Buffer, p *Plan) error { return RenderMermaid(b, p) }},
		{"json", func(b *bytes.Buffer, p *Plan) error { return RenderJSON(b, p) }},
	}
}

func render(t *testing.T, p *Plan, fn func(*bytes.Buffer, *Plan) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := fn(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
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
		t.Fatalf("%v (go test ./pkg/plan -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file (go test ./pkg/plan -update rewrites it; review the diff)\n%s", path, firstDifference(string(want), string(got)))
	}
}

// firstDifference shows the first line where got departs from want.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant %q\n got %q", i+1, wl, gl)
		}
	}
	return "(they differ only in a trailing newline)"
}

func TestRenderingsGolden(t *testing.T) {
	for _, c := range renderCases() {
		p := c.plan(t)
		for _, r := range renderings() {
			t.Run(c.name+"."+r.ext, func(t *testing.T) {
				got := render(t, p, r.render)
				if again := render(t, p, r.render); again != got {
					t.Fatal("the same plan renders differently twice")
				}
				checkGolden(t, c.name+"."+r.ext, []byte(got))
			})
		}
	}
}

func TestRenderSummaryCounts(t *testing.T) {
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			p := c.plan(t)
			if got := p.Summary(); got != c.want {
				t.Fatalf("summary = %+v, want %+v", got, c.want)
			}
			w := c.want
			text := render(t, p, renderings()[0].render)
			line := fmt.Sprintf("Plan: %d to create, %d to change, %d to delete, %d to run, %d unchanged, %d conflicts.\n",
				w.Create, w.Update, w.Delete, w.Run, w.None, w.Conflict)
			if !strings.Contains(text, line) {
				t.Errorf("text has no line %q", line)
			}
			if !strings.Contains(text, c.says) {
				t.Errorf("text does not say %q", c.says)
			}
			if blocked := strings.Contains(text, "cannot be applied until its conflicts are resolved"); blocked != (w.Conflict > 0) {
				t.Errorf("conflict warning shown = %v with %d conflicts", blocked, w.Conflict)
			}
			md := render(t, p, renderings()[2].render)
			row := fmt.Sprintf("| **total** | | **%d** | **%d** | **%d** | **%d** | **%d** | **%d** |\n",
				w.Create, w.Update, w.Delete, w.Run, w.None, w.Conflict)
			if !strings.Contains(md, row) {
				t.Errorf("markdown has no row %q", row)
			}
			if shown := strings.Contains(md, "[!CAUTION]"); shown != (w.Conflict > 0) {
				t.Errorf("markdown conflict warning shown = %v with %d conflicts", shown, w.Conflict)
			}
			note := fmt.Sprintf("%d to replace: deleted, then created again", w.Replace)
			if shown := strings.Contains(text, note); shown != (w.Replace > 0) {
				t.Errorf("text replace note shown = %v with %d replaces", shown, w.Replace)
			}
			if shown := strings.Contains(md, note); shown != (w.Replace > 0) {
				t.Errorf("markdown replace note shown = %v with %d replaces", shown, w.Replace)
			}
		})
	}
}

func TestMermaidDrawsEveryStepAndEdge(t *testing.T) {
	mermaidNode := regexp.MustCompile(`^ {4}([a-z]+[0-9]+)\["([^"]*)"\]:::([a-z]+)$`)
	mermaidEdge := regexp.MustCompile(`^ {2}([a-z]+[0-9]+) (-->|-\.->) ([a-z]+[0-9]+)$`)
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			p := c.plan(t)
			out := render(t, p, renderings()[3].render)
			nodes := map[string]string{} // node id -> class
			labels := map[string]bool{}
			needs, assumes, solid, dashed := 0, 0, 0, 0
			for _, s := range p.Steps {
				needs += len(s.Needs)
				assumes += len(s.Assumes)
			}
			if !strings.HasPrefix(out, "flowchart LR\n") {
				t.Errorf("does not start with flowchart LR")
			}
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if m := mermaidNode.FindStringSubmatch(line); m != nil {
					if _, dup := nodes[m[1]]; dup {
						t.Errorf("node id %s used twice", m[1])
					}
					nodes[m[1]] = m[3]
					labels[m[2]] = true
					continue
				}
				if m := mermaidEdge.FindStringSubmatch(line); m != nil {
					if m[2] == "-->" {
						solid++
					} else {
						dashed++
					}
					for _, end := range []string{m[1], m[3]} {
						if _, ok := nodes[end]; !ok {
							t.Errorf("edge %q names an undeclared node", line)
						}
					}
				}
			}
			if got := strings.Count(out, "-->"); got != needs || solid != needs {
				t.Errorf("%d solid edges (%d well formed) for %d needs", got, solid, needs)
			}
			if dashed != assumes {
				t.Errorf("%d dashed edges for %d assumptions", dashed, assumes)
			}
			if p.Graph() != nil && len(p.Graph().Edges()) != needs {
				t.Errorf("the graph has %d edges, the plan %d needs", len(p.Graph().Edges()), needs)
			}
			for i, s := range p.Steps {
				id := fmt.Sprintf("s%d", i)
				if nodes[id] != s.Change.Action.Name() {
					t.Errorf("step %q: node %s has class %q, want %q", s.ID, id, nodes[id], s.Change.Action.Name())
				}
				if label := mermaidText(s.Change.Action.String() + " " + string(s.ID)); !labels[label] {
					t.Errorf("step %q: no node labelled %q", s.ID, label)
				}
			}
			if got := strings.Count(out, "\n  subgraph "); got != len(p.Phases)+min(assumes, 1) {
				t.Errorf("%d subgraphs for %d phases", got, len(p.Phases))
			}
		})
	}
}

func TestMarkdownEmbedsTheMermaidGraph(t *testing.T) {
	for _, c := range renderCases() {
		p := c.plan(t)
		md := render(t, p, renderings()[2].render)
		graph := render(t, p, renderings()[3].render)
		if !strings.HasSuffix(md, "\n```mermaid\n"+graph+"```\n") {
			t.Errorf("%s: the markdown does not end with the mermaid graph in a fenced block", c.name)
		}
	}
}

// Every table row has exactly as many unescaped pipes as its table's
// header, so no cell text splits a cell.
func TestMarkdownTableCellsAreEscaped(t *testing.T) {
	for _, c := range renderCases() {
		md := render(t, c.plan(t), renderings()[2].render)
		want := -1
		for i, line := range strings.Split(md, "\n") {
			if !strings.HasPrefix(line, "|") {
				want = -1
				continue
			}
			n := strings.Count(line, "|") - strings.Count(line, `\|`)
			if want == -1 {
				want = n
			}
			if n != want {
				t.Errorf("%s: line %d has %d cell separators, its table %d: %s", c.name, i+1, n, want, line)
			}
		}
	}
}

func TestRenderersNeverShowSensitiveValues(t *testing.T) {
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			p := c.plan(t)
			sensitive := 0
			for i := range p.Steps {
				fields := p.Steps[i].Change.Fields
				for k := range fields {
					if fields[k].Sensitive {
						fields[k].Old, fields[k].New = fakeSecret, fakeSecret
						sensitive++
					}
				}
			}
			// RenderJSON is left out: it writes what the plan holds, and a
			// plan holds step.Redacted, never a value, for a sensitive field.
			for _, r := range renderings()[:4] {
				out := render(t, p, r.render)
				if strings.Contains(out, fakeSecret) {
					t.Errorf("%s shows the secret", r.ext)
				}
				if r.ext != "mmd" && sensitive > 0 && !strings.Contains(out, step.Redacted) {
					t.Errorf("%s does not show %s for the sensitive fields", r.ext, step.Redacted)
				}
			}
		})
	}
}

func TestTextColorIsOnlyDecoration(t *testing.T) {
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for _, c := range renderCases() {
		p := c.plan(t)
		plain := render(t, p, renderings()[0].render)
		color := render(t, p, renderings()[1].render)
		if strings.ContainsRune(plain, '\x1b') {
			t.Errorf("%s: text without colour holds an escape character", c.name)
		}
		if !strings.Contains(color, "\x1b[") {
			t.Errorf("%s: text with colour has no colour", c.name)
		}
		if stripped := ansi.ReplaceAllString(color, ""); stripped != plain {
			t.Errorf("%s: colour changes more than colour:\n%s", c.name, firstDifference(plain, stripped))
		}
	}
}

func TestRenderRefusesABrokenPlan(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *Plan)
		want   string
	}{
		{"unknown step in a phase", func(p *Plan) { p.Phases[0].Steps = append(p.Phases[0].Steps, "ghost") },
			"phase guests lists step ghost, which the plan does not hold"},
		{"step in no phase", func(p *Plan) { p.Phases[0].Steps = p.Phases[0].Steps[1:] }, "step guest/lb-1 is in no phase"},
		{"step in two phases", func(p *Plan) { p.Phases[1].Steps = append(p.Phases[1].Steps, "guest/lb-1") },
			"step guest/lb-1 is listed twice by the phases"},
		{"need outside the plan", func(p *Plan) { p.Steps[0].Needs = []step.ID{"ghost"} }, "step guest/lb-1 needs ghost, which the plan does not hold"},
		{"duplicate step", func(p *Plan) { p.Steps = append(p.Steps, p.Steps[0]) }, "step guest/lb-1 appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := offlinePlan(t)
			tt.mutate(p)
			for _, r := range renderings()[:4] {
				var b bytes.Buffer
				err := r.render(&b, p)
				if err == nil || err.Error() != "render plan: "+tt.want {
					t.Errorf("%s: err = %v, want %q", r.ext, err, tt.want)
				}
				if b.Len() != 0 {
					t.Errorf("%s: wrote output for a broken plan", r.ext)
				}
			}
		})
	}
}

func TestMarkdownQuotingHelpers(t *testing.T) {
	tests := []struct{ got, want string }{
		{codeSpan("a`b"), "``a`b``"},
		{codeSpan("`x`"), "`` `x` ``"},
		{codeSpan(""), "`\"\"`"},
		{cellCode("a|b"), "`a\\|b`"},
		{mdText("a|b *c* <d> [e](f) `g`"), "a\\|b \\*c\\* \\<d\\> \\[e\\](f) \\`g\\`"},
		{fenced("", "x\n```\ny"), "````\nx\n```\ny\n````\n"},
		{mermaidText(`a"b#c<d>&` + "`\n"), "a#quot;b#35;c#lt;d#gt;#amp;#96; "},
		{clean("a\x1b[31mb\tc\n"), `a\x1b[31mb` + "\tc" + `\n`},
		{lineCount(""), "0 lines"},
		{lineCount("a"), "1 line"},
		{lineCount("a\nb\n"), "2 lines"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
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

// A plan whose steps found guests not answering yet says so in its header:
// "every step read the lab" alone would hide that those changes are what
// a fresh guest needs.
func TestRenderFreshSteps(t *testing.T) {
	p := offlinePlan(t)
	p.Steps[0].Change.Fresh = true
	p.Steps[1].Change.Fresh = true
	markObserved(p)
	note := "2 of them could not read what they manage yet (a guest still to be created or started, a cluster still to be made) and show what a new one needs."
	for _, r := range []rendering{renderings()[0], renderings()[2]} {
		if got := render(t, p, r.render); !strings.Contains(got, note) {
			t.Errorf("%s: no note %q in\n%s", r.ext, note, got[:min(len(got), 600)])
		}
	}
	if got := render(t, convergedPlan(t), renderings()[0].render); strings.Contains(got, "not answering") {
		t.Error("a plan without fresh steps mentions them")
	}
}

// A plan of gates and waits is converged; a conflict is a difference.
func TestHasChanges(t *testing.T) {
	for _, tc := range []struct {
		action step.Action
		want   bool
	}{{step.None, false}, {step.Run, false}, {step.Create, true}, {step.Update, true}, {step.Delete, true}, {step.Conflict, true}, {step.Replace, true}} {
		p := convergedPlan(t)
		p.Steps[0].Change = step.Change{Action: tc.action}
		if got := p.HasChanges(); got != tc.want {
			t.Errorf("a plan with one %s step: HasChanges = %v", tc.action.Name(), got)
		}
	}
}
