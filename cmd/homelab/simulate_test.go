package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// up --simulate keeps the simulated lab beside the inventory: a second up,
// in another process as far as the lab knows, changes nothing; plan shows
// the converged lab; down --simulate --yes removes the guests from it;
// sim reset forgets it.
func TestUpSimulateTwice(t *testing.T) {
	invPath := tempInventory(t, "small")
	labDir := filepath.Join(filepath.Dir(invPath), ".homelab", "small", "simulated-lab")
	code, out, errOut := runCLI(t, "up", "--simulate", "-i", invPath, "-p", "plans/infrastructure.yaml")
	if code != 0 || !strings.Contains(out, "network        18 created") {
		t.Fatalf("first up (exit %d, stderr %q):\n%s", code, errOut, out)
	}
	if _, err := os.Stat(filepath.Join(labDir, "lab.json")); err != nil {
		t.Fatalf("no simulated lab kept beside the inventory: %v", err)
	}
	code, out, errOut = runCLI(t, "up", "--simulate", "-i", invPath, "-p", "plans/infrastructure.yaml")
	if code != 0 {
		t.Fatalf("second up (exit %d, stderr %q):\n%s", code, errOut, out)
	}
	for _, phase := range []string{"network", "guests"} {
		line := summaryLine(out, phase)
		if !strings.Contains(line, " 0 created, 0 changed,") {
			t.Errorf("second up, %s: %q\n%s", phase, line, out)
		}
	}
	code, out, _ = runCLI(t, "plan", "--simulate", "-i", invPath, "-p", "plans/infrastructure.yaml")
	if code != 0 || !strings.Contains(out, "Plan: 0 to create, 0 to change, 0 to delete,") || !strings.Contains(out, "0 conflicts") {
		t.Errorf("plan after up (exit %d):\n%s", code, out)
	}

	code, out, errOut = runCLI(t, "down", "--simulate", "--yes", "-i", invPath)
	if code != 0 || !strings.Contains(out, "guest") {
		t.Fatalf("down (exit %d, stderr %q):\n%s", code, errOut, out)
	}
	code, out, _ = runCLI(t, "plan", "--simulate", "-i", invPath, "-p", "plans/infrastructure.yaml")
	if code != 0 || !strings.Contains(out, "+ guest/lb-1") {
		t.Errorf("plan after down (exit %d):\n%s", code, out)
	}

	code, out, errOut = runCLI(t, "sim", "reset", "-i", invPath)
	if code != 0 || !strings.Contains(out, "Removed the simulated lab in "+labDir) {
		t.Fatalf("sim reset (exit %d, stderr %q):\n%s", code, errOut, out)
	}
	if _, err := os.Stat(labDir); !os.IsNotExist(err) {
		t.Errorf("sim reset left %s: %v", labDir, err)
	}
	if _, err := os.Stat(invPath); err != nil {
		t.Errorf("sim reset removed more than the lab: %v", err)
	}
}

// summaryLine is the run summary's line of a phase.
func summaryLine(out, phase string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), phase+" ") && strings.Contains(line, "created") {
			return line
		}
	}
	return ""
}

// The whole small lab, Kubernetes included, from the CLI with --output
// json: every line is an event, the run ends with the kubeconfig written
// where --kubeconfig says (mode 0600, server the endpoint name), no
// bootstrap token or certificate key is in the stream, and a second up
// changes nothing in any phase.
func TestUpSimulateFullStackJSON(t *testing.T) {
	invPath := tempInventory(t, "small")
	kubeconfig := filepath.Join(t.TempDir(), "kube", "small.conf")
	code, out, errOut := runCLI(t, "up", "--simulate", "-i", invPath, "-p", "plans/full-stack.yaml", "-o", "json", "--kubeconfig", kubeconfig)
	if code != 0 {
		t.Fatalf("up (exit %d, stderr %q):\n%s", code, errOut, out)
	}
	var prev, last map[string]any
	done := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		prev, last = last, nil
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("not a JSON event: %q", line)
		}
		if last["kind"] == "done" {
			done[last["step"].(string)] = true
		}
	}
	if prev["kind"] != "done" || prev["step"] != "kube/kubeconfig" {
		t.Errorf("last step event %v", prev)
	}
	// The stream ends with the summary: every step done, counted by
	// action, per phase with durations.
	var sum struct {
		Kind      string
		Succeeded bool
		Seconds   float64        `json:"duration_seconds"`
		Steps     int            `json:"steps"`
		Actions   map[string]int `json:"actions"`
		Phases    []struct {
			Name    string
			Seconds float64 `json:"duration_seconds"`
			Steps   int
		}
		Results []struct {
			ID      string
			Status  string
			Seconds float64 `json:"duration_seconds"`
		}
	}
	if err := json.Unmarshal([]byte(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Kind != "summary" || !sum.Succeeded || sum.Steps != len(done) || sum.Actions["create"] == 0 || len(sum.Results) != len(done) || sum.Seconds <= 0 {
		t.Errorf("summary: %+v (%d steps done)", sum, len(done))
	}
	var phaseSteps int
	for _, ph := range sum.Phases {
		phaseSteps += ph.Steps
		if ph.Steps > 0 && (ph.Seconds <= 0 || ph.Seconds > sum.Seconds) {
			t.Errorf("phase %s took %gs of the run's %gs", ph.Name, ph.Seconds, sum.Seconds)
		}
	}
	if len(sum.Phases) != 4 || phaseSteps != sum.Steps {
		t.Errorf("phases %+v: %d steps of %d", sum.Phases, phaseSteps, sum.Steps)
	}
	for _, r := range sum.Results {
		if !done[r.ID] || r.Status != "done" {
			t.Errorf("summary result %+v: not a step the stream says is done", r)
		}
	}
	if secret := regexp.MustCompile(`[a-z0-9]{6}\.[a-z0-9]{16}|--certificate-key [0-9a-f]{64}`).FindString(out); secret != "" {
		t.Errorf("a bootstrap secret in the events: %s", secret)
	}
	if !strings.Contains(out, "--certificate-key ***") || !strings.Contains(out, "--token ***") {
		t.Errorf("kubeadm init's join commands are not in the events, redacted")
	}
	fi, err := os.Stat(kubeconfig)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig: %v %v", err, fi)
	}
	if b, _ := os.ReadFile(kubeconfig); !strings.Contains(string(b), "server: https://k8s-api.home.example:6443") {
		t.Errorf("kubeconfig:\n%s", b)
	}
	code, out, errOut = runCLI(t, "up", "--simulate", "-i", invPath, "-p", "plans/full-stack.yaml", "--kubeconfig", kubeconfig)
	if code != 0 {
		t.Fatalf("second up (exit %d, stderr %q):\n%s", code, errOut, out)
	}
	for _, phase := range []string{"network", "guests", "loadbalancers", "kubernetes"} {
		if line := summaryLine(out, phase); !strings.Contains(line, " 0 created, 0 changed,") {
			t.Errorf("second up, %s: %q", phase, line)
		}
	}
	if !strings.Contains(out, "kubeconfig      "+kubeconfig) {
		t.Errorf("the endpoints do not name the kubeconfig:\n%s", out)
	}
	// Converged: gates and waits are no changes, so drift checks in CI
	// can rely on --detailed-exitcode.
	code, out, errOut = runCLI(t, "plan", "--simulate", "-i", invPath, "-p", "plans/full-stack.yaml", "--kubeconfig", kubeconfig, "--detailed-exitcode")
	if code != 0 || !strings.Contains(out, "No changes: the lab already matches the inventory.") {
		t.Errorf("plan --detailed-exitcode on the converged lab: exit %d, stderr %q\n%s", code, errOut, out)
	}
}

// A plan saved against the simulated lab is refused once the lab changed
// under it (another up built the network), with the steps that differ;
// status then shows every resource in sync.
func TestApplyRefusesAPlanTheLabOutgrew(t *testing.T) {
	invPath := tempInventory(t, "small")
	saved := filepath.Join(t.TempDir(), "plan.json")
	if code, _, errOut := runCLI(t, "plan", "--simulate", "-i", invPath, "-p", "plans/network.yaml", "--out", saved, "-o", "json"); code != 0 {
		t.Fatalf("plan --out: %s", errOut)
	}
	if code, out, errOut := runCLI(t, "up", "--simulate", "-i", invPath, "-p", "plans/network.yaml"); code != 0 {
		t.Fatalf("up (exit %d, stderr %q):\n%s", code, errOut, out)
	}
	code, _, errOut := runCLI(t, "apply", "--simulate", saved)
	if code != 1 || !strings.Contains(errOut, "the saved plan is stale, nothing was changed: step router/") || !strings.Contains(errOut, "was create (+) in the plan, the lab now says none (=)") {
		t.Fatalf("apply of an outgrown plan: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut := runCLI(t, "status", "--simulate", "-i", invPath, "-p", "plans/network.yaml")
	if code != 0 || !strings.Contains(out, "19 resources: 19 in sync.") {
		t.Fatalf("status (exit %d, stderr %q):\n%s", code, errOut, out)
	}
}
