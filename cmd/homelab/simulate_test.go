package main

import (
	"os"
	"path/filepath"
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
	if code != 0 || !strings.Contains(out, "network        17 created") {
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
