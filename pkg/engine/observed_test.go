package engine

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/homelabctl/homelab/pkg/step"
)

// fakeCounting counts its observations and applies.
type fakeCounting struct {
	change            step.Change
	observed, applied atomic.Int32
}

func (w *fakeCounting) Observe(context.Context) (step.Change, error) {
	w.observed.Add(1)
	return w.change, nil
}

func (w *fakeCounting) Apply(context.Context, step.Change, io.Writer) error {
	w.applied.Add(1)
	return nil
}

// A run reuses an earlier observation of a step that writes nothing; it
// observes again a step that writes, one that could not read yet, one
// without an earlier observation, and every step after one that wrote
// (directly or not).
func TestRunReusesObservations(t *testing.T) {
	none := step.Change{Action: step.None}
	gate := step.Change{Action: step.Run}
	w := map[string]*fakeCounting{}
	mk := func(id string, c step.Change, needs ...string) *step.Step {
		w[id] = &fakeCounting{change: c}
		return node(id, "p", w[id], needs...)
	}
	g := graph(t,
		mk("quiet", none),
		mk("gate", gate, "quiet"),
		mk("writes", step.Change{Action: step.Update}),
		mk("after-write", none, "writes"),
		mk("later", none, "after-write"),
		mk("fresh", none),
		mk("unplanned", none),
	)
	observed := map[step.ID]step.Change{
		"quiet": none, "gate": gate, "writes": {Action: step.Update},
		"after-write": none, "later": none, "fresh": none.Unread("no answer yet"),
	}
	res, err := Run(context.Background(), g, Options{Observed: observed})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int32{"quiet": 0, "gate": 0, "writes": 1, "after-write": 1, "later": 1, "fresh": 1, "unplanned": 1}
	for id, n := range want {
		if got := w[id].observed.Load(); got != n {
			t.Errorf("%s observed %d times, want %d", id, got, n)
		}
	}
	if got := w["gate"].applied.Load(); got != 1 {
		t.Errorf("the gate applied %d times, want 1 (it looks on every run)", got)
	}
	if r, _ := res.Get("quiet"); r.Status != Done || r.Change.Action != step.None {
		t.Errorf("quiet: %+v", r)
	}
}
