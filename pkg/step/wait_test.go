package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A gate looks until it passes, and when its time is up says what it
// waited for and what it saw last; an error from a look ends it at once.
func TestWait(t *testing.T) {
	var slept time.Duration
	g := Wait{What: "the thing to be ready", Timeout: 3 * time.Second, Poll: time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { slept += d; time.Sleep(d / 100); return nil }}
	looks := 0
	var out bytes.Buffer
	err := g.Until(context.Background(), &out, func(context.Context) (bool, string, error) {
		looks++
		return looks == 3, fmt.Sprintf("look %d", looks), nil
	})
	if err != nil || out.String() != "look 3\n" || slept != 2*time.Second {
		t.Fatalf("passing gate: %v, out %q, slept %s", err, out.String(), slept)
	}
	g.Timeout = 50 * time.Millisecond
	err = g.Until(context.Background(), &out, func(context.Context) (bool, string, error) { return false, "still not", nil })
	if err == nil || err.Error() != "waited 50ms for the thing to be ready; last saw: still not" {
		t.Errorf("timed-out gate: %v", err)
	}
	looks = 0
	err = g.Until(context.Background(), &out, func(context.Context) (bool, string, error) {
		looks++
		return false, "", errors.New("ssh master-1: connection refused")
	})
	if looks != 1 || err == nil || !strings.Contains(err.Error(), "waiting for the thing to be ready: ssh master-1") {
		t.Errorf("a failed look: %d looks, %v", looks, err)
	}
}

// A gate looks once while a plan observes; when it finds what it waits
// for, the run that takes that observation says what it saw and does not
// look again. A look that fails or finds it not so leaves the gate to
// wait as ever; outside a plan Observe does not look.
func TestWaitObserve(t *testing.T) {
	g := Wait{What: "the VIP to be held", Timeout: time.Nanosecond, Sleep: func(context.Context, time.Duration) error { return nil }}
	run := Change{Action: Run, Reason: "a gate: checked on every run"}
	for _, tc := range []struct {
		name   string
		inPass bool
		done   bool
		seen   string
		err    error
		passed string
	}{
		{name: "passes", inPass: true, done: true, seen: "held by lb-1", passed: "held by lb-1"},
		{name: "passes, says nothing", inPass: true, done: true, passed: "it passed"},
		{name: "not yet", inPass: true, seen: "no load balancer holds it"},
		{name: "cannot look", inPass: true, err: errors.New("ssh lb-1: connection refused")},
		{name: "outside a plan", done: true, seen: "held by lb-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			looks := 0
			look := func(context.Context) (bool, string, error) {
				looks++
				return tc.done, tc.seen, tc.err
			}
			ctx := context.Background()
			if tc.inPass {
				ctx = WithPass(ctx)
			}
			c := g.Observe(ctx, run, look)
			if c.Passed != tc.passed || c.Action != Run || c.Reason != run.Reason {
				t.Fatalf("observed %+v, want passed %q", c, tc.passed)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.inPass]; looks != want {
				t.Fatalf("%d looks while observing, want %d", looks, want)
			}
			looks = 0
			var out bytes.Buffer
			err := g.Apply(context.Background(), c, &out, look)
			switch {
			case tc.passed != "":
				if err != nil || looks != 0 || out.String() != tc.passed+" (seen while planning)\n" {
					t.Errorf("a gate that passed while planning: %v, %d looks, out %q", err, looks, out.String())
				}
			case tc.done:
				if err != nil || looks != 1 {
					t.Errorf("a gate that passes: %v, %d looks", err, looks)
				}
			default:
				if err == nil || looks == 0 {
					t.Errorf("a gate that does not pass: %v, %d looks", err, looks)
				}
			}
		})
	}
}

// A look while planning older than PassedFresh (an `up` that waited for
// its approval) is not trusted: the run looks again.
func TestWaitObserveStale(t *testing.T) {
	g := Wait{What: "the VIP to be held", Timeout: time.Nanosecond, Sleep: func(context.Context, time.Duration) error { return nil }}
	looks := 0
	look := func(context.Context) (bool, string, error) { looks++; return true, "held by lb-1", nil }
	c := g.Observe(WithPass(context.Background()), Change{Action: Run}, look)
	if c.Passed == "" {
		t.Fatalf("the look while planning did not pass: %+v", c)
	}
	c.PassedAt = c.PassedAt.Add(-PassedFresh - time.Second)
	looks = 0
	var out bytes.Buffer
	if err := g.Apply(context.Background(), c, &out, look); err != nil || looks != 1 || strings.Contains(out.String(), "seen while planning") {
		t.Errorf("a stale look: %v, %d looks, out %q", err, looks, out.String())
	}
}
