package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// up --target on the simulated lab runs the targeted guest's steps and
// what they need, warns that the run is partial, and lists no endpoint it
// did not bring up; the plan that follows shows the rest still to do.
func TestUpTarget(t *testing.T) {
	inv := tempInventory(t, "small")
	code, out, errOut := runCLI(t, "up", "--simulate", "-i", inv, "--target", "guest/lb-1/boot")
	if code != 0 {
		t.Fatalf("up --target (exit %d, stderr %q):\n%s", code, errOut, out)
	}
	if !strings.Contains(errOut, "Warning: --target: a partial plan, ") {
		t.Errorf("no partial-run warning: %q", errOut)
	}
	for _, want := range []string{"done    guest/lb-1/boot", "done    guest/lb-1 ", "done    router/lease/lb-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("up --target did not run %q:\n%s", want, out)
		}
	}
	for _, absent := range []string{"guest/lb-2", "lb/haproxy", "kube/", "Endpoints:"} {
		if strings.Contains(out, absent) {
			t.Errorf("up --target guest/lb-1/boot ran or listed %q:\n%s", absent, out)
		}
	}
	// Only the targeted steps changed the lab: the plan of the rest shows
	// lb-1 in place and lb-2 still to create.
	code, out, errOut = runCLI(t, "plan", "--simulate", "-i", inv, "-o", "json")
	if code != 0 {
		t.Fatalf("plan (exit %d): %s", code, errOut)
	}
	var p struct {
		Steps []struct {
			ID     string
			Change struct{ Action string }
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, s := range p.Steps {
		actions[s.ID] = s.Change.Action
	}
	if actions["guest/lb-1"] != "none" || actions["guest/lb-2"] != "create" {
		t.Errorf("after up --target guest/lb-1/boot: guest/lb-1 %q, guest/lb-2 %q", actions["guest/lb-1"], actions["guest/lb-2"])
	}
}

// A guest's name targets its steps in every phase; a bad target or a
// partial plan saved for apply is a usage error.
func TestPlanTarget(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "--offline", "-i", "inventories/small.yaml", "--target", "lb-1", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p struct{ Steps []struct{ ID string } }
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, s := range p.Steps {
		ids[s.ID] = true
	}
	for _, want := range []string{"router/lease/lb-1", "router/dns/lb-1.home.example", "guest/lb-1", "guest/lb-1/boot", "lb/haproxy/lb-1", "lb/keepalived/lb-1", "router/bridge/lab"} {
		if !ids[want] {
			t.Errorf("--target lb-1 lacks %s: %v", want, ids)
		}
	}
	for id := range ids {
		if strings.Contains(id, "lb-2") || strings.Contains(id, "master-1") || strings.HasPrefix(id, "kube/") {
			t.Errorf("--target lb-1 has %s", id)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--target", "nope"}, `--target nope: neither a guest of inventory "small" nor a step of the plan`},
		{[]string{"--target", "lb-1", "--out", "x.json"}, "--out with --target: apply runs whole plans"},
	} {
		code, _, errOut := runCLI(t, append([]string{"plan", "--offline", "-i", "inventories/small.yaml"}, tt.args...)...)
		if code != exitError || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "homelab --help") {
			t.Errorf("%v: exit %d, %q", tt.args, code, errOut)
		}
	}
}
