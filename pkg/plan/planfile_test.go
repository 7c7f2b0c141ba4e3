package plan

import (
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	f, err := ParseFile("plans/x.yaml", []byte("description: d\nphases:\n  - network\n  - kind: guests\n    name: vms\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "x" || f.Description != "d" || len(f.Phases) != 2 {
		t.Fatalf("%+v", f)
	}
	if p := f.Phases[1]; p.Kind != "guests" || p.Name != "vms" || p.Line != 4 || p.Col != 11 {
		t.Fatalf("%+v", p)
	}
	if !strings.HasPrefix(f.Digest, "sha256:") || len(f.Digest) != len("sha256:")+64 {
		t.Fatalf("digest %q", f.Digest)
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"empty", "", "plans/p.yaml:1:1: phases: the plan is empty: list at least one phase"},
		{"not a mapping", "- network\n", "plans/p.yaml:1:1: (document): a plan file is a mapping with name, description and phases"},
		{"no phases", "name: x\n", "plans/p.yaml:1:1: phases: missing: list the phases to run, in order"},
		{"empty phases", "phases: []\n", "plans/p.yaml:1:9: phases: must be a list of at least one phase"},
		{"unknown key", "name: x\nphase: [network]\n", "plans/p.yaml:2:1: phase: unknown field \"phase\" (a plan file has name, description and phases)\nplans/p.yaml:1:1: phases: missing: list the phases to run, in order"},
		{"unknown phase key", "phases:\n  - kind: network\n    when: always\n", "plans/p.yaml:3:5: phases[0].when: unknown field \"when\" (a phase has kind and name)"},
		{"phase without kind", "phases:\n  - name: x\n", "plans/p.yaml:2:5: phases[0].kind: missing: name the phase kind (network, guests, loadbalancers, kubernetes)"},
		{"phase is a list", "phases:\n  - [network]\n", "plans/p.yaml:2:5: phases[0]: a phase is a kind (network) or a mapping with kind and name"},
		{"duplicate kind", "phases:\n  - network\n  - guests\n  - network\n", "plans/p.yaml:4:5: phases[2].kind: phase kind \"network\" is already in the plan at line 2"},
		{"bad yaml", "phases: [network\n", "plans/p.yaml: yaml: line 1: did not find expected ',' or ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("plans/p.yaml", []byte(tt.text))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err =\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}

// -p takes a built-in plan by its bare name (the default when empty) and
// anything that looks like a path as a file.
func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		ref, name string
		builtin   bool
		err       string
	}{
		{"", "full-stack", true, ""},
		{"network", "network", true, ""},
		{"infrastructure", "infrastructure", true, ""},
		{"nope", "", false, `no built-in plan "nope" (built in: full-stack, guests, infrastructure, kubernetes, loadbalancers, network; a plan file is a path such as plans/nope.yaml)`},
		{"network.yaml", "", false, "read plan: open network.yaml"},
		{"plans/none.yaml", "", false, "read plan: open plans/none.yaml"},
		{"../../plans/guests.yaml", "guests", false, ""},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			f, err := Open(tc.ref)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Name != tc.name || f.Builtin != tc.builtin || (f.Path == "") != tc.builtin || !strings.HasPrefix(f.Digest, "sha256:") {
				t.Errorf("Open(%q) = %+v", tc.ref, f)
			}
		})
	}
	// The built-in plan is the file's bytes: the same digest.
	b, _ := Open("guests")
	f, _ := Open("../../plans/guests.yaml")
	if b.Digest != f.Digest {
		t.Error("the built-in guests plan differs from plans/guests.yaml")
	}
}
