package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// version prints the version, the plan format and, when the build knows
// it, the commit.
func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !regexp.MustCompile(`^homelab \S+ \(plan format \d+(, commit [0-9a-f]+(-dirty)?)?\)\n$`).MatchString(out) {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

// --help lists only the flags a command takes: down and status must read
// the lab, so --offline is not listed (it is still refused with a reason),
// and down writes no kubeconfig.
func TestHelpListsOnlyWorkingFlags(t *testing.T) {
	tests := []struct {
		cmd          string
		want, absent []string
	}{
		{"down", []string{"--simulate", "--yes"}, []string{"--offline", "--kubeconfig", "--plan"}},
		{"status", []string{"--simulate", "--kubeconfig", "--plan"}, []string{"--offline"}},
		{"plan", []string{"--offline", "--simulate", "--kubeconfig", "--out", "--detailed-exitcode"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.cmd, "--help")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, f := range tt.want {
				if !strings.Contains(out, f) {
					t.Errorf("%s --help does not list %s:\n%s", tt.cmd, f, out)
				}
			}
			for _, f := range tt.absent {
				if strings.Contains(out, f+" ") {
					t.Errorf("%s --help lists %s, which it does not take:\n%s", tt.cmd, f, out)
				}
			}
		})
	}
	for _, cmd := range []string{"down", "status"} {
		code, _, errOut := runCLI(t, cmd, "-i", "inventories/small.yaml", "--offline")
		if code != exitError || !strings.Contains(errOut, cmd+" must read the lab: --offline does not apply") {
			t.Errorf("%s --offline: exit %d, %q", cmd, code, errOut)
		}
	}
}

// Escape codes only on a terminal that can show them, and only when no
// one asked for plain output.
func TestEscapes(t *testing.T) {
	tests := []struct {
		name     string
		terminal bool
		noColor  bool
		env      map[string]string
		want     bool
	}{
		{"a terminal", true, false, map[string]string{"TERM": "xterm-256color"}, true},
		{"a pipe", false, false, map[string]string{"TERM": "xterm-256color"}, false},
		{"TERM=dumb", true, false, map[string]string{"TERM": "dumb"}, false},
		{"NO_COLOR", true, false, map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, false},
		{"--no-color", true, true, map[string]string{"TERM": "xterm"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := escapesFor(tt.terminal, tt.noColor, func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("escapesFor = %v, want %v", got, tt.want)
			}
		})
	}
}

// Flag values complete: the renderings for plan -o, the run outputs for
// up -o, the inventory's guests for --replace (less those given), YAML
// files for -p and -i, JSON files for apply.
func TestCompletion(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"plan", "-o", ""}, "text\njson\nmarkdown\nmermaid\n:4\n"},
		{[]string{"up", "-o", ""}, "text\njson\n:4\n"},
		{[]string{"up", "-i", "inventories/small.yaml", "--replace", ""}, "lb-1\nlb-2\nmaster-1\nworker-1\n:4\n"},
		{[]string{"up", "-i", "inventories/small.yaml", "--replace", "lb-1", "--replace", "w"}, "worker-1\n:4\n"},
		{[]string{"up", "-i", "inventories/small.yaml", "--replace", "lb-1,"}, "lb-1,lb-2\nlb-1,master-1\nlb-1,worker-1\n:4\n"},
		{[]string{"up", "--replace", ""}, ":4\n"},
		{[]string{"plan", "-p", ""}, "yaml\nyml\n:8\n"},
		{[]string{"validate", "-i", ""}, "yaml\nyml\n:8\n"},
		{[]string{"apply", ""}, "json\n:8\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Setenv("HOMELAB_INVENTORY", "")
			code, out, errOut := runCLI(t, append([]string{"__complete"}, tt.args...)...)
			if code != 0 || out != tt.want {
				t.Errorf("exit %d, completions %q, want %q (stderr %q)", code, out, tt.want, errOut)
			}
		})
	}
}

// A bare plan without the lab's secrets set says how to plan without the
// lab; up says --simulate. The router password is resolved before
// anything is dialled, so nothing is contacted.
func TestBarePlanSuggestsOfflineOrSimulate(t *testing.T) {
	t.Setenv("HOMELAB_ROUTER_PASSWORD", "")
	os.Unsetenv("HOMELAB_ROUTER_PASSWORD")
	code, _, errOut := runCLI(t, "plan", "-i", "inventories/small.yaml")
	if code != exitError || !strings.Contains(errOut, "HOMELAB_ROUTER_PASSWORD is not set") ||
		!strings.Contains(errOut, "--offline shows the plan as on an empty lab, --simulate reads the simulated lab") {
		t.Errorf("plan: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "status", "-i", "inventories/small.yaml")
	if code != exitError || strings.Contains(errOut, "--offline") || !strings.Contains(errOut, "--simulate runs against the simulated lab") {
		t.Errorf("status: exit %d, stderr %q", code, errOut)
	}
}
