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
