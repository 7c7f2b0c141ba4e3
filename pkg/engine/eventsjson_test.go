package engine_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/homelabctl/homelab/internal/view"
	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/step"
)

// work observes change and applies with apply.
type work struct {
	change step.Change
	apply  func(out io.Writer) error
}

func (w work) Observe(context.Context) (step.Change, error) { return w.change, nil }
func (w work) Apply(_ context.Context, _ step.Change, out io.Writer) error {
	return w.apply(out)
}

// A run whose events have every kind (a step that writes output and a
// file diff, one retried, one failing, one skipped because of it),
// written as "-o json" writes them (internal/view.JSON), reads back into
// the same events.
func TestEventsRoundTripJSON(t *testing.T) {
	var calls atomic.Int32
	steps := []*step.Step{
		{ID: "guest/a", Phase: "guests", Work: work{
			change: step.Change{Action: step.Update, Reason: "drift", Fields: []step.Field{{Name: "cores", Old: "1", New: "2"}, step.SensitiveField("password")},
				Files: []step.File{{Host: "a", Path: "/etc/x", Mode: "0644", Content: "x\n", Diff: "-y\n+x\n"}}},
			apply: func(out io.Writer) error { _, err := io.WriteString(out, "one\ntwo \"quoted\" \t tab\n"); return err }}},
		{ID: "guest/b", Phase: "guests", Work: work{change: step.Change{Action: step.Create, Fresh: true}, apply: func(io.Writer) error {
			if calls.Add(1) == 1 {
				return step.Retryable(errors.New("got timeout"))
			}
			return nil
		}}},
		// It needs both, so that it runs (and fails) after them: the
		// engine starts the step on the longest chain first.
		{ID: "lb/c", Phase: "loadbalancers", Needs: []step.ID{"guest/a", "guest/b"}, Work: work{change: step.Change{Action: step.Run}, apply: func(io.Writer) error {
			return errors.New("haproxy -c: line 3: unknown keyword 'x'")
		}}},
		{ID: "kube/d", Phase: "kubernetes", Needs: []step.ID{"lb/c"}, Work: work{change: step.Change{Action: step.Create}}},
	}
	g, err := step.NewGraph(steps)
	if err != nil {
		t.Fatal(err)
	}
	var emitted []engine.Event
	var out bytes.Buffer
	sink := view.Tee{engine.SinkFunc(func(e engine.Event) { emitted = append(emitted, e) }), view.JSON{W: &out}}
	_, err = engine.Run(context.Background(), g, engine.Options{Sink: sink, Parallelism: 1,
		Retry: engine.RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond, Max: time.Millisecond, Multiplier: 1},
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err == nil {
		t.Fatal("the run did not fail")
	}

	var read []engine.Event
	if err := engine.ReadEvents(&out, func(e engine.Event) error { read = append(read, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(read) != len(emitted) {
		t.Fatalf("read %d events, emitted %d", len(read), len(emitted))
	}
	kinds := map[engine.EventKind]bool{}
	for i := range emitted {
		kinds[emitted[i].Kind] = true
		if !read[i].Time.Equal(emitted[i].Time) {
			t.Errorf("event %d: time %v, emitted %v", i, read[i].Time, emitted[i].Time)
		}
		a, b := read[i], emitted[i]
		a.Time, b.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("event %d:\nread    %+v\nemitted %+v", i, a, b)
		}
	}
	for k := engine.StepStarted; k <= engine.StepSkipped; k++ {
		if !kinds[k] {
			t.Errorf("no %s event in the run", k)
		}
	}
}

// Lines that are not events are refused with their line number; fn's
// error stops the reading.
func TestReadEventsRefuses(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"kind":"started","step":"a","phase":"p","time":"2026-01-02T03:04:05Z"}` + "\n" + `{"kind":"exploded","step":"a"}`, `events line 2: unknown event kind "exploded"`},
		{`{"kind":"done","step":"a","bogus":1}`, `events line 1: json: unknown field "bogus"`},
		{`not json`, `events line 1: invalid character`},
		{`{"kind":"change","change":{"action":"smash"}}`, `events line 1: unknown action "smash"`},
	} {
		err := engine.ReadEvents(strings.NewReader(tt.in), func(engine.Event) error { return nil })
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q...", tt.in, err, tt.want)
		}
	}
	// The CLI's final summary record is not an event and is passed over.
	n := 0
	in := `{"kind":"done","step":"a"}` + "\n" + `{"kind":"summary","took":1.5,"actions":{"create":1}}` + "\n"
	if err := engine.ReadEvents(strings.NewReader(in), func(engine.Event) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("a stream ending with its summary: %v after %d events", err, n)
	}
	stop := errors.New("stop")
	n = 0
	err := engine.ReadEvents(strings.NewReader("{\"kind\":\"done\"}\n\n{\"kind\":\"done\"}\n"), func(engine.Event) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: %v after %d events", err, n)
	}
}

// FuzzReadEvents: any input is read or refused, never a panic, and what
// is read writes back to JSON that reads the same.
func FuzzReadEvents(f *testing.F) {
	f.Add([]byte(`{"kind":"retry","step":"guest/b","phase":"guests","time":"2026-01-02T03:04:05Z","attempt":2,"delay":1000000,"error":"got timeout"}`))
	f.Add([]byte(`{"kind":"change","step":"a","change":{"action":"update","fields":[{"name":"x","old":"1","new":"2"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var first []engine.Event
		if engine.ReadEvents(bytes.NewReader(data), func(e engine.Event) error { first = append(first, e); return nil }) != nil {
			return
		}
		var buf bytes.Buffer
		for _, e := range first {
			view.JSON{W: &buf}.Emit(e)
		}
		var again []engine.Event
		if err := engine.ReadEvents(&buf, func(e engine.Event) error { again = append(again, e); return nil }); err != nil {
			t.Fatalf("written back, not read: %v\n%s", err, buf.String())
		}
		if len(again) != len(first) {
			t.Fatalf("%d events, then %d", len(first), len(again))
		}
	})
}
