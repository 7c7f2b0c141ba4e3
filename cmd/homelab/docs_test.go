package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docExample is the example of docs/plan-json.md: a paragraph that starts
// with the command line in backticks, and the ```json block after it.
var docExample = regexp.MustCompile("(?s)\n`(homelab plan [^`]+)`[^\n]*(?:\n[^\n]+)*\n\n```json\n(.*?\n)```\n")

// docs/plan-json.md's example is the real output of the command it names,
// with steps[] cut to the steps the example shows (homelab_version as a
// build without -ldflags says it). go test ./cmd/homelab -update rewrites
// it from the same command and the same steps.
func TestPlanJSONDocExample(t *testing.T) {
	toRoot(t)
	const path = "docs/plan-json.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := docExample.FindSubmatchIndex(doc)
	if m == nil {
		t.Fatalf("%s has no `homelab plan ...` line followed by a json block", path)
	}
	args := strings.Fields(string(doc[m[2]:m[3]]))[1:]
	shown := doc[m[4]:m[5]]
	var example struct {
		Steps []struct {
			ID string `json:"id"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(shown, &example); err != nil || len(example.Steps) == 0 {
		t.Fatalf("the example of %s is no plan with steps: %v", path, err)
	}
	var keep []string
	for _, s := range example.Steps {
		keep = append(keep, s.ID)
	}

	code, out, errOut := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	out = pinVersion(t, "json", out)
	// Cut the steps, keeping the document's key order: decode into
	// ordered raw pieces, re-encode as RenderJSON indents.
	var full map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &full); err != nil {
		t.Fatal(err)
	}
	var steps []json.RawMessage
	if err := json.Unmarshal(full["steps"], &steps); err != nil {
		t.Fatal(err)
	}
	var kept []json.RawMessage
	for _, raw := range steps {
		var s struct {
			ID string `json:"id"`
		}
		json.Unmarshal(raw, &s)
		if slices.Contains(keep, s.ID) {
			kept = append(kept, raw)
		}
	}
	if len(kept) != len(keep) {
		t.Fatalf("the plan of %v has not every step the example shows (%v)", args, keep)
	}
	stepsJSON, _ := json.Marshal(kept)
	i := strings.Index(out, "\n  \"steps\": [")
	if i < 0 {
		t.Fatal("no steps in the output")
	}
	var b bytes.Buffer
	if err := json.Indent(&b, stepsJSON, "  ", "  "); err != nil {
		t.Fatal(err)
	}
	want := out[:i] + "\n  \"steps\": " + b.String() + "\n}\n"

	if *update {
		updated := slices.Concat(doc[:m[4]], []byte(want), doc[m[5]:])
		if err := os.WriteFile(path, updated, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(shown) != want {
		t.Errorf("the example of %s is not the output of %v (go test ./cmd/homelab -update rewrites it; review the diff)", path, args)
	}
}
