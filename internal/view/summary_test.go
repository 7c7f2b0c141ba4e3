package view

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/step"
)

// The summary counts steps by action and outcome, overall and per phase;
// a phase's wall time runs from its first start to its last end, and its
// step seconds add its steps' durations.
func TestSummarise(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	res := &engine.Result{Steps: []engine.StepResult{
		{ID: "net/vlan", Status: engine.Done, Change: step.Change{Action: step.Create}, Started: at(0), Ended: at(1)},
		{ID: "net/dns", Status: engine.Done, Change: step.Change{Action: step.None}, Started: at(0.5), Ended: at(2)},
		{ID: "guest/a", Status: engine.Done, Change: step.Change{Action: step.Update}, Started: at(2), Ended: at(5)},
		{ID: "guest/b", Status: engine.Failed, Started: at(2), Ended: at(3)},
		{ID: "guest/b/boot", Status: engine.Skipped},
	}}
	phaseOf := map[step.ID]string{"net/vlan": "network", "net/dns": "network", "guest/a": "guests", "guest/b": "guests", "guest/b/boot": "guests"}
	got := Summarise([]string{"network", "guests", "kubernetes"}, phaseOf, res, 6*time.Second, at(6), true)
	want := RunSummary{
		Kind: "summary", Time: at(6), Succeeded: false, Seconds: 6,
		Counts: Counts{Steps: 5, Actions: map[string]int{"create": 1, "none": 1, "update": 1}, Failed: 1, Skipped: 1},
		Phases: []PhaseSummary{
			{Name: "network", Seconds: 2, StepSeconds: 2.5, Counts: Counts{Steps: 2, Actions: map[string]int{"create": 1, "none": 1}}},
			{Name: "guests", Seconds: 3, StepSeconds: 4, Counts: Counts{Steps: 3, Actions: map[string]int{"update": 1}, Failed: 1, Skipped: 1}},
			{Name: "kubernetes", Counts: Counts{Actions: map[string]int{}}},
		},
		Results: []StepSummary{
			{ID: "net/vlan", Phase: "network", Status: "done", Action: "create", Seconds: 1},
			{ID: "net/dns", Phase: "network", Status: "done", Action: "none", Seconds: 1.5},
			{ID: "guest/a", Phase: "guests", Status: "done", Action: "update", Seconds: 3},
			{ID: "guest/b", Phase: "guests", Status: "failed", Seconds: 1},
			{ID: "guest/b/boot", Phase: "guests", Status: "skipped"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Summarise:\n got %+v\nwant %+v", got, want)
	}

	var b bytes.Buffer
	if err := got.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil || bytes.Count(b.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("not one JSON line: %v\n%s", err, b.String())
	}
	for _, key := range []string{"kind", "time", "succeeded", "duration_seconds", "steps", "actions", "failed", "skipped", "phases", "results"} {
		if _, ok := line[key]; !ok {
			t.Errorf("the summary line has no %q: %s", key, b.String())
		}
	}
}
