package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	ros "github.com/go-routeros/routeros/v3"

	"github.com/homelabctl/homelab/pkg/homelab"
)

var update = flag.Bool("update", false, "rewrite golden files")

// homelab runs the CLI in-process from the repository root and returns its
// exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if _, err := os.Stat("go.mod"); err != nil {
		t.Chdir("../..")
	}
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("cmd/homelab/testdata", name) // the working directory is the repository root
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/homelab -update to create it)", err)
	}
	if got != string(want) {
		gotLines, wantLines := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gotLines), len(wantLines)) {
			g, w := lineAt(gotLines, i), lineAt(wantLines, i)
			if g != w {
				t.Errorf("%s differs from the golden file at line %d:\n got: %s\nwant: %s\nif intended, run go test ./cmd/homelab -update and review the diff", path, i+1, g, w)
				return
			}
		}
	}
}

// Every rendering of the full plan of both example inventories is pinned.
func TestPlanRenderingsGolden(t *testing.T) {
	for _, inv := range []string{"rachuna-net", "small"} {
		for _, format := range []string{"text", "json", "markdown", "mermaid"} {
			t.Run(inv+"/"+format, func(t *testing.T) {
				code, out, errOut := runCLI(t, "plan", "--offline", "-i", "inventories/"+inv+".yaml", "-o", format)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				ext := map[string]string{"text": "txt", "json": "json", "markdown": "md", "mermaid": "mmd"}[format]
				golden(t, "plan/"+inv+"."+ext, pinVersion(t, format, out))
			})
		}
	}
}

// pinVersion checks that a JSON plan carries this homelab's version and
// writes it as "dev" (the version of a build without -ldflags), so the
// golden files hold the same bytes whatever the build says.
func pinVersion(t *testing.T, format, out string) string {
	t.Helper()
	if format != "json" {
		return out
	}
	line := fmt.Sprintf("\n  \"homelab_version\": %q,\n", homelab.Version)
	if !strings.Contains(out, line) {
		t.Fatalf("the JSON plan does not carry homelab_version %q", homelab.Version)
	}
	return strings.Replace(out, line, "\n  \"homelab_version\": \"dev\",\n", 1)
}

// Each single-phase plan compiles on both inventories, and its steps that
// need other phases show those as assumptions.
func TestSinglePhasePlans(t *testing.T) {
	for _, inv := range []string{"rachuna-net", "small"} {
		for _, p := range []string{"network", "guests", "loadbalancers", "kubernetes"} {
			t.Run(inv+"/"+p, func(t *testing.T) {
				code, out, errOut := runCLI(t, "plan", "--offline", "-i", "inventories/"+inv+".yaml", "-p", "plans/"+p+".yaml", "-o", "json")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				var plan struct {
					Phases []struct{ Kind string }
					Steps  []struct {
						ID      string
						Assumes []string
					}
				}
				if err := json.Unmarshal([]byte(out), &plan); err != nil {
					t.Fatal(err)
				}
				if len(plan.Phases) != 1 || plan.Phases[0].Kind != p || len(plan.Steps) == 0 {
					t.Fatalf("phases %+v, %d steps", plan.Phases, len(plan.Steps))
				}
				assumes := 0
				for _, s := range plan.Steps {
					assumes += len(s.Assumes)
				}
				if p != "network" && assumes == 0 {
					t.Errorf("a %s-only plan must assume the earlier phases' steps", p)
				}
			})
		}
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		stdout string
	}{
		{"valid", []string{"validate", "-i", "inventories/small.yaml", "-p", "plans/full-stack.yaml"}, 0, "", "inventories/small.yaml: valid (4 guests on 1 nodes, 1 networks)"},
		{"no inventory", []string{"plan", "--offline"}, 1, "no inventory: pass -i FILE", ""},
		{"bad output", []string{"plan", "--offline", "-i", "inventories/small.yaml", "-o", "yaml"}, 1, "-o yaml: want one of text, json, markdown, mermaid", ""},
		{"unknown flag", []string{"plan", "--bogus"}, 1, "unknown flag: --bogus", ""},
		{"extra argument", []string{"validate", "extra"}, 1, `unknown command "extra"`, ""},
		{"unknown command", []string{"deploy"}, 1, `unknown command "deploy"`, ""},
		{"missing inventory file", []string{"validate", "-i", "inventories/nope.yaml"}, 1, "nope.yaml", ""},
		{"invalid inventory", []string{"validate", "-i", "inventories/testdata/invalid/vlan-out-of-range.yaml"}, 1, "vlan", ""},
		{"unknown plan phase", []string{"plan", "--offline", "-i", "inventories/small.yaml", "-p", "cmd/homelab/testdata/unknown-phase.yaml"}, 1, `unknown phase kind "dns"`, ""},
		{"detailed exit code", []string{"plan", "--offline", "--detailed-exitcode", "-i", "inventories/small.yaml"}, 2, "", "Plan:"},
		// As Terraform: 2 means "changes" only, so a typo in CI never
		// reads as a plan with changes.
		{"detailed exit code, bad flag", []string{"plan", "--offline", "--detailed-exitcode", "--bogus", "-i", "inventories/small.yaml"}, 1, "unknown flag: --bogus", ""},
		{"version", []string{"version"}, 0, "", "homelab dev (plan format 2)"},
		{"offline and simulate", []string{"plan", "--offline", "--simulate", "-i", "inventories/small.yaml"}, 1, "--offline and --simulate: pick one", ""},
		// A directory that is not a backup is refused before any lab is
		// read or made.
		{"restore of no backup", []string{"up", "--simulate", "-i", "inventories/small.yaml", "--restore", "cmd/homelab/testdata"}, 1,
			"restore: backup cmd/homelab/testdata is not usable: it has no manifest.json (not a backup, or one that did not finish)", ""},
		{"plan of a restore of no backup", []string{"plan", "--offline", "-i", "inventories/small.yaml", "--restore", "cmd/homelab/testdata"}, 1, "has no manifest.json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.stderr)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout %q does not contain %q", out, tt.stdout)
			}
		})
	}
}

// plan --out writes the JSON rendering, with the inventory's path relative
// to the saved plan.
func TestPlanOutSavesThePlan(t *testing.T) {
	out := filepath.Join(t.TempDir(), "plan.json")
	code, stdout, errOut := runCLI(t, "plan", "--offline", "-i", "inventories/small.yaml", "-o", "json", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	saved, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The same plan, but the saved one names the inventory relative to
	// itself: it applies from any directory.
	abs, err := filepath.Abs("inventories/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(filepath.Dir(out), abs)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(stdout, `"path": "inventories/small.yaml"`, `"path": "`+filepath.ToSlash(rel)+`"`, 1)
	if want == stdout || string(saved) != want {
		t.Errorf("the saved plan is not the JSON rendering with the inventory's path relative to the plan:\n%s", saved[:min(len(saved), 400)])
	}
	info, _ := os.Stat(out)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("saved plan mode %v, want 0600", info.Mode().Perm())
	}
}

// No rendering carries a secret: the references are shown, never values,
// even when the environment holds them.
func TestNoSecretsInOutput(t *testing.T) {
	const secret = "s3cr3t-vrrp"
	t.Setenv("HOMELAB_VRRP_PASSWORD", secret)
	t.Setenv("HOMELAB_ROUTER_PASSWORD", secret)
	t.Setenv("HOMELAB_PVE_TOKEN_SECRET", secret)
	for _, format := range []string{"text", "json", "markdown", "mermaid"} {
		code, out, errOut := runCLI(t, "plan", "--offline", "-i", "inventories/rachuna-net.yaml", "-o", format, "-v")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%s output contains the secret", format)
		}
	}
}

// plan --simulate reads an in-process lab: the network plan is observed
// (the router phase has a client) and, on a factory-fresh router, creates
// every entry; the router's password never shows.
func TestPlanSimulate(t *testing.T) {
	invPath := tempInventory(t, "small")
	code, out, errOut := runCLI(t, "plan", "--simulate", "-i", invPath, "-p", "plans/network.yaml", "-o", "json", "-v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p struct {
		Observed bool `json:"observed"`
		Steps    []struct {
			ID     string `json:"id"`
			Change struct {
				Action string `json:"action"`
			} `json:"change"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if !p.Observed || len(p.Steps) == 0 {
		t.Fatalf("observed %v, %d steps", p.Observed, len(p.Steps))
	}
	for _, s := range p.Steps {
		// A router reset to its default configuration answers remote
		// DNS requests already: that check alone changes nothing.
		if want := map[bool]string{true: "none", false: "create"}[s.ID == "router/dns-remote-requests"]; s.Change.Action != want {
			t.Errorf("%s: %s on a factory router", s.ID, s.Change.Action)
		}
	}
	code, out, _ = runCLI(t, "plan", "--simulate", "-i", invPath, "-p", "plans/network.yaml")
	if code != 0 || !strings.Contains(out, "Observed: every step read the lab") || !strings.Contains(out, "+ router/lease/lb-1") {
		t.Errorf("text plan (exit %d):\n%s", code, out)
	}
}

// tempInventory copies inventories/NAME.yaml into a temporary directory
// and returns the copy's path: the simulated lab a --simulate command
// keeps beside it goes with the test.
func tempInventory(t *testing.T, name string) string {
	t.Helper()
	if _, err := os.Stat("go.mod"); err != nil {
		t.Chdir("../..")
	}
	data, err := os.ReadFile(filepath.Join("inventories", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end of file)"
}

// up --simulate builds the network phase on a simulated router and ends
// with a summary; apply runs a saved plan, and refuses one whose inventory
// changed since.
func TestUpAndApplySimulated(t *testing.T) {
	code, out, errOut := runCLI(t, "up", "--simulate", "-i", tempInventory(t, "small"), "-p", "plans/network.yaml")
	if code != 0 || !strings.Contains(out, "network        18 created, 0 changed, 1 unchanged") {
		t.Fatalf("up (exit %d, stderr %q):\n%s", code, errOut, out)
	}

	dir := t.TempDir()
	saved := filepath.Join(dir, "plan.json")
	if code, _, errOut := runCLI(t, "plan", "--simulate", "-i", tempInventory(t, "small"), "-p", "plans/network.yaml", "--out", saved, "-o", "json"); code != 0 {
		t.Fatalf("plan --out: %s", errOut)
	}
	code, out, errOut = runCLI(t, "apply", "--simulate", saved)
	if code != 0 || !strings.Contains(out, "18 created") {
		t.Fatalf("apply (exit %d, stderr %q):\n%s", code, errOut, out)
	}

	// A copy of the inventory, changed after the plan was made.
	inv, _ := os.ReadFile("inventories/small.yaml")
	copyPath := filepath.Join(dir, "small.yaml")
	os.WriteFile(copyPath, inv, 0o600)
	if code, _, errOut := runCLI(t, "plan", "--simulate", "-i", copyPath, "-p", "plans/network.yaml", "--out", saved, "-o", "json"); code != 0 {
		t.Fatalf("plan --out: %s", errOut)
	}
	os.WriteFile(copyPath, append(inv, []byte("# edited\n")...), 0o600)
	code, _, errOut = runCLI(t, "apply", "--simulate", saved)
	if code != 1 || !strings.Contains(errOut, "the saved plan is stale, nothing was changed: the inventory "+copyPath+" changed") {
		t.Fatalf("stale apply: exit %d, stderr %q", code, errOut)
	}
}

// Runs against a real lab take the inventory's run lock and keep a journal
// beside it; a second run waits its turn with a message naming the holder.
func TestRealRunsLockAndJournal(t *testing.T) {
	dir := t.TempDir()
	invPath := filepath.Join(dir, "small.yaml")
	data, err := os.ReadFile("../../inventories/small.yaml")
	if err != nil {
		data, err = os.ReadFile("inventories/small.yaml")
	}
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(invPath, data, 0o600)
	var stderr bytes.Buffer
	g := &globals{inventory: invPath, stdout: io.Discard, stderr: &stderr}
	inv, err := g.load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	journal, end, err := g.begin(inv, "up", target{})
	if err != nil || journal == nil {
		t.Fatalf("begin: %v", err)
	}
	if _, _, err := g.begin(inv, "down", target{}); err == nil || !strings.Contains(err.Error(), "another run holds") {
		t.Fatalf("second run: %v", err)
	}
	end()
	if !strings.Contains(stderr.String(), "Run journal: "+filepath.Join(dir, ".homelab", "small", "runs")) {
		t.Errorf("stderr %q", stderr.String())
	}
	if _, end2, err := g.begin(inv, "up", target{}); err != nil {
		t.Fatalf("after the first run ended: %v", err)
	} else {
		end2()
	}
}

// sim serve prints where its simulators listen and how to log in, and a
// go-routeros session with those credentials works; it stops with the
// context.
func TestSimServe(t *testing.T) {
	if _, err := os.Stat("go.mod"); err != nil {
		t.Chdir("../..")
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"sim", "serve", "-i", "inventories/small.yaml"}, strings.NewReader(""), out, io.Discard)
	}()
	var addr, user, pass string
	for i := 0; i < 200 && addr == ""; i++ {
		time.Sleep(10 * time.Millisecond)
		for _, line := range strings.Split(out.String(), "\n") {
			// RouterOS API   ADDR  (plain API; user USER, password PASS)
			if f := strings.Fields(line); len(f) == 9 && f[0] == "RouterOS" {
				addr, user, pass = f[2], f[6], strings.TrimSuffix(f[8], ")")
			}
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("no router endpoint in:\n%s", out.String())
	}
	c, err := ros.DialTimeout(addr, strings.TrimSuffix(user, ","), pass, 2*time.Second)
	if err != nil {
		cancel()
		t.Fatalf("log in to the served router: %v\n%s", err, out.String())
	}
	c.Close()
	cancel()
	for _, guest := range []string{"lb-1", "master-1", "worker-1"} {
		if !regexp.MustCompile(`(?m)^ +` + guest + ` +ssh -i \S+id_ed25519 -p \d+ \w+@127\.0\.0\.1$`).MatchString(out.String()) {
			t.Errorf("no ssh line for %s in:\n%s", guest, out.String())
		}
	}
	if code := <-done; code != 0 || !strings.Contains(out.String(), "Stopped.") || !strings.Contains(out.String(), "Proxmox VE API https://127.0.0.1:") {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
