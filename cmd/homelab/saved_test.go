package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runIn runs the CLI in-process in dir, which need not be the repository.
func runIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// toRoot makes the repository root the working directory, as runCLI does.
func toRoot(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("go.mod"); err != nil {
		t.Chdir("../..")
	}
}

// readmeLine returns the arguments of the README's command line that
// starts with prefix (without "homelab" and the comment after it).
func readmeLine(t *testing.T, prefix string) []string {
	t.Helper()
	toRoot(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			line, _, _ = strings.Cut(line, "#")
			return strings.Fields(line)[1:]
		}
	}
	t.Fatalf("the README has no line %q", prefix)
	return nil
}

// The README's save-then-apply pair, with --simulate (and a kubeconfig
// path, which the simulated lab would otherwise keep in its own directory)
// added to both: a plan saved offline shows the lab as empty, and applies
// to a lab that still is, from another directory than it was made in,
// with the built-in default plan. A second apply of the same plan is
// refused step by step: the lab no longer says what the plan showed. up
// from anywhere, given the inventory's absolute path, then finds nothing
// to do; show renders the saved plan.
func TestSavedOfflinePlanAppliesFromAnywhere(t *testing.T) {
	invPath := tempInventory(t, "small")
	kubeconfig := filepath.Join(t.TempDir(), "small.conf")
	review, elsewhere := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(review, "inventories"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(invPath)
	if err := os.WriteFile(filepath.Join(review, "inventories", "small.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	sim := []string{"--simulate", "--kubeconfig", kubeconfig}
	save, apply := readmeLine(t, "homelab plan -i inventories/small.yaml --offline --out plan.json"), readmeLine(t, "homelab apply plan.json")

	code, _, errOut := runIn(t, review, append(save, sim[1:]...)...)
	if code != 0 || !strings.Contains(errOut, "Saved the plan to plan.json.") {
		t.Fatalf("plan --offline --out (exit %d): %s", code, errOut)
	}
	saved := filepath.Join(review, "plan.json")
	apply[len(apply)-1] = saved // applied from elsewhere

	code, out, errOut := runIn(t, elsewhere, "show", saved)
	if code != 0 || !strings.Contains(out, `homelab plan "full-stack" for inventory "small"`) || !strings.Contains(out, "NOT OBSERVED") {
		t.Fatalf("show (exit %d, stderr %q):\n%s", code, errOut, out)
	}

	code, out, errOut = runIn(t, elsewhere, append(apply, sim...)...)
	if code != 0 {
		t.Fatalf("apply of the offline plan (exit %d, stderr %q):\n%s", code, errOut, out)
	}
	for _, phase := range []string{"network", "guests", "loadbalancers", "kubernetes"} {
		if line := summaryLine(out, phase); line == "" || strings.Contains(line, " 0 created") || strings.Contains(line, "failed") {
			t.Errorf("apply, %s: %q", phase, line)
		}
	}
	if _, err := os.Stat(filepath.Join(review, "inventories", ".homelab", "small", "simulated-lab")); err != nil {
		t.Errorf("the simulated lab is not beside the inventory the plan names: %v", err)
	}

	code, _, errOut = runIn(t, elsewhere, append(apply, sim...)...)
	if code != 1 || !strings.Contains(errOut, "the saved plan is stale, nothing was changed: step router/") ||
		!strings.Contains(errOut, "was create (+) in the plan (not observed: as on an empty lab), the lab now says none (=)") {
		t.Fatalf("second apply of the offline plan: exit %d, stderr %q", code, errOut)
	}

	// up needs no plan file in the working directory: the default plan
	// is built in.
	code, out, errOut = runIn(t, elsewhere, append([]string{"up", "-i", filepath.Join(review, "inventories", "small.yaml")}, sim...)...)
	if code != 0 {
		t.Fatalf("up from elsewhere (exit %d, stderr %q):\n%s", code, errOut, out)
	}
	for _, phase := range []string{"network", "guests", "loadbalancers", "kubernetes"} {
		if line := summaryLine(out, phase); !strings.Contains(line, " 0 created, 0 changed,") {
			t.Errorf("up after apply, %s: %q", phase, line)
		}
	}
}

// show renders a saved plan as plan rendered it, in every format; its JSON
// is the saved file. schema prints the schemas docs/ publishes.
func TestShowAndSchema(t *testing.T) {
	invPath := tempInventory(t, "small") // from the repository root
	docs, _ := filepath.Abs("docs")
	dir := filepath.Dir(invPath)
	if err := os.MkdirAll(filepath.Join(dir, "inventories"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(invPath, filepath.Join(dir, "inventories", "small.yaml")); err != nil {
		t.Fatal(err)
	}
	args := []string{"plan", "-i", "inventories/small.yaml", "-p", "loadbalancers", "--offline"}
	if code, _, errOut := runIn(t, dir, append(args, "--out", "plan.json")...); code != 0 {
		t.Fatalf("plan --out: %s", errOut)
	}
	saved, _ := os.ReadFile(filepath.Join(dir, "plan.json"))
	for _, format := range []string{"text", "json", "markdown", "mermaid"} {
		_, want, _ := runIn(t, dir, append(args, "-o", format)...)
		code, got, errOut := runIn(t, dir, "show", "plan.json", "-o", format)
		if code != 0 || got != want {
			t.Errorf("show -o %s (exit %d, stderr %q) differs from plan -o %s:\n%s", format, code, errOut, format, got[:min(len(got), 300)])
		}
		if format == "json" && got != string(saved) {
			t.Error("show -o json is not the saved plan")
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"show", "plan.json", "-o", "yaml"}, "-o yaml: want one of text, json, markdown, mermaid"},
		{[]string{"show", "missing.json"}, "no such file"},
		{[]string{"show"}, "accepts 1 arg(s)"},
		{[]string{"schema", "status"}, `invalid argument "status"`},
	} {
		if code, _, errOut := runIn(t, dir, tc.args...); code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut)
		}
	}
	for _, name := range []string{"inventory", "plan"} {
		want, err := os.ReadFile(filepath.Join(docs, name+".schema.json"))
		if err != nil {
			t.Fatal(err)
		}
		if code, got, errOut := runIn(t, dir, "schema", name); code != 0 || got != string(want) {
			t.Errorf("schema %s (exit %d, stderr %q) is not docs/%s.schema.json", name, code, errOut, name)
		}
	}
}

// plan --replace records the guests the plan may rebuild.
func TestPlanReplaceFlag(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "-i", "inventories/small.yaml", "--offline", "--replace", "lb-1,lb-2", "-o", "json")
	if code != 0 || !strings.Contains(out, "\n  \"replace\": [\n    \"lb-1\",\n    \"lb-2\"\n  ],\n") {
		t.Fatalf("plan --replace (exit %d, stderr %q):\n%s", code, errOut, out[:min(len(out), 600)])
	}
}
