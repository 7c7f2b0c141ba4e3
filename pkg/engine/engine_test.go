package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/step"
)

// fakeWork observes a fixed change and applies by calling apply.
type fakeWork struct {
	change  step.Change
	observe func(ctx context.Context) error
	apply   func(ctx context.Context, out io.Writer) error
	applied atomic.Int32
}

func (w *fakeWork) Observe(ctx context.Context) (step.Change, error) {
	if w.observe != nil {
		if err := w.observe(ctx); err != nil {
			return step.Change{}, err
		}
	}
	return w.change, nil
}

func (w *fakeWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	w.applied.Add(1)
	if w.apply != nil {
		return w.apply(ctx, out)
	}
	return nil
}

func create(apply func(ctx context.Context, out io.Writer) error) *fakeWork {
	return &fakeWork{change: step.Change{Action: step.Create}, apply: apply}
}

func node(id, phase string, w step.Work, needs ...string) *step.Step {
	s := &step.Step{ID: step.ID(id), Phase: phase, Work: w}
	for _, n := range needs {
		s.Needs = append(s.Needs, step.ID(n))
	}
	return s
}

func graph(t testing.TB, steps ...*step.Step) *step.Graph {
	t.Helper()
	g, err := step.NewGraph(steps)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// recorder is a Sink that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Emit(e Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }

func (r *recorder) of(kind EventKind) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestOrderRespectsNeeds(t *testing.T) {
	var mu sync.Mutex
	var log []string
	work := func(id string) *fakeWork {
		return create(func(context.Context, io.Writer) error {
			mu.Lock()
			log = append(log, "start "+id)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			log = append(log, "end "+id)
			mu.Unlock()
			return nil
		})
	}
	g := graph(t,
		node("d", "p", work("d"), "b", "c"),
		node("b", "p", work("b"), "a"),
		node("c", "p", work("c"), "a"),
		node("a", "p", work("a")),
	)
	res, err := Run(context.Background(), g, Options{Parallelism: 8})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, l := range log {
		pos[l] = i
	}
	for _, s := range g.Steps() {
		for _, n := range s.Needs {
			if pos["start "+string(s.ID)] < pos["end "+string(n)] {
				t.Errorf("%s started before %s ended: %v", s.ID, n, log)
			}
		}
	}
	for _, r := range res.Steps {
		if r.Status != Done || r.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts", r.ID, r.Status, r.Attempts)
		}
	}
}

// Where steps compete for the parallelism (or a lock), the one on the
// longest chain of dependents starts first, whatever the graph order: the
// lone steps wait for the head of a chain of three and its middle; the
// chain's tail is then as urgent as they are, and graph order decides.
func TestLongestChainStartsFirst(t *testing.T) {
	var mu sync.Mutex
	var started []string
	work := func(id string) *fakeWork {
		return create(func(context.Context, io.Writer) error {
			mu.Lock()
			started = append(started, id)
			mu.Unlock()
			return nil
		})
	}
	g := graph(t,
		node("alone", "p", work("alone")),
		node("other", "p", work("other")),
		node("head", "p", work("head")),
		node("mid", "p", work("mid"), "head"),
		node("tail", "p", work("tail"), "mid"),
	)
	if _, err := Run(context.Background(), g, Options{Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
	want := []string{"head", "mid", "alone", "other", "tail"}
	if !slices.Equal(started, want) {
		t.Errorf("started %v, want %v", started, want)
	}
}

// maxConcurrent runs n independent steps that each hold the given locks and
// wait until `want` of them run at once (or a short while), and returns
// the most that ran at once.
func maxConcurrent(t *testing.T, n, parallelism, want int, locks ...step.Lock) int {
	t.Helper()
	var now, peak atomic.Int32
	var steps []*step.Step
	for i := range n {
		w := create(func(ctx context.Context, _ io.Writer) error {
			c := now.Add(1)
			for {
				p := peak.Load()
				if c <= p || peak.CompareAndSwap(p, c) {
					break
				}
			}
			// Hold on until `want` run at once, so overlap is certain if
			// the engine allows it; give up after a while if it does not.
			deadline := time.Now().Add(200 * time.Millisecond)
			for int(peak.Load()) < want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			now.Add(-1)
			return nil
		})
		s := node(fmt.Sprintf("s%d", i), "p", w)
		s.Locks = locks
		steps = append(steps, s)
	}
	if _, err := Run(context.Background(), graph(t, steps...), Options{Parallelism: parallelism}); err != nil {
		t.Fatal(err)
	}
	return int(peak.Load())
}

func TestIndependentStepsOverlap(t *testing.T) {
	if got := maxConcurrent(t, 2, 4, 2); got != 2 {
		t.Errorf("two independent steps ran %d at once, want 2", got)
	}
	if got := maxConcurrent(t, 3, 1, 2); got != 1 {
		t.Errorf("with parallelism 1, %d ran at once", got)
	}
}

func TestLockCapacitiesHold(t *testing.T) {
	if got := maxConcurrent(t, 8, 8, 3, step.Lock{Key: "node/a", Capacity: 2}); got != 2 {
		t.Errorf("capacity 2: %d holders at once, want exactly 2", got)
	}
	if got := maxConcurrent(t, 4, 8, 2, step.Lock{Key: "template/1", Capacity: 1}); got != 1 {
		t.Errorf("capacity 1: %d holders at once", got)
	}
	// Two keys: the tighter one wins.
	if got := maxConcurrent(t, 6, 8, 3, step.Lock{Key: "node/a", Capacity: 3}, step.Lock{Key: "t", Capacity: 2}); got != 2 {
		t.Errorf("two keys: %d holders at once, want 2", got)
	}
}

func TestRetryableErrorsRetryWithBackoff(t *testing.T) {
	var calls atomic.Int32
	w := create(func(context.Context, io.Writer) error {
		if calls.Add(1) < 4 {
			return step.Retryable(errors.New("got timeout"))
		}
		return nil
	})
	var delays []time.Duration
	rec := &recorder{}
	opts := Options{
		Retry: RetryPolicy{MaxAttempts: 5, Initial: time.Second, Max: 3 * time.Second, Multiplier: 2},
		Sleep: func(_ context.Context, d time.Duration) error { delays = append(delays, d); return nil },
		Sink:  rec,
	}
	res, err := Run(context.Background(), graph(t, node("clone", "p", w)), opts)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := res.Get("clone")
	if r.Attempts != 4 || calls.Load() != 4 {
		t.Errorf("attempts %d, calls %d", r.Attempts, calls.Load())
	}
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	if fmt.Sprint(delays) != fmt.Sprint(want) {
		t.Errorf("delays %v, want %v (doubling, capped)", delays, want)
	}
	retries := rec.of(StepRetry)
	if len(retries) != 3 || retries[0].Attempt != 2 || retries[0].Err != "got timeout" || retries[2].Delay != 3*time.Second {
		t.Errorf("retry events %+v", retries)
	}
}

func TestJitterSpreadsDelays(t *testing.T) {
	p := RetryPolicy{Initial: 10 * time.Second, Max: time.Minute, Multiplier: 2, Jitter: 0.2}
	if d := p.delay(1, func() float64 { return 0 }); d != 8*time.Second {
		t.Errorf("low jitter %v", d)
	}
	if d := p.delay(1, func() float64 { return 0.999999 }); d < 11*time.Second || d > 12*time.Second {
		t.Errorf("high jitter %v", d)
	}
}

func TestNonRetryableErrorsDoNotRetry(t *testing.T) {
	var calls atomic.Int32
	w := create(func(context.Context, io.Writer) error { calls.Add(1); return errors.New("permission denied") })
	_, err := Run(context.Background(), graph(t, node("a", "p", w)), Options{Sleep: noSleep})
	if calls.Load() != 1 {
		t.Errorf("called %d times", calls.Load())
	}
	var se *StepError
	if !errors.As(err, &se) || se.Step != "a" || err.Error() != "step a: permission denied" {
		t.Errorf("err = %v", err)
	}
}

func TestAttemptsRunOut(t *testing.T) {
	var calls atomic.Int32
	w := create(func(context.Context, io.Writer) error { calls.Add(1); return step.Retryable(errors.New("500 busy")) })
	_, err := Run(context.Background(), graph(t, node("a", "p", w)), Options{Sleep: noSleep, Retry: RetryPolicy{MaxAttempts: 3, Initial: 1, Max: 1, Multiplier: 1}})
	if calls.Load() != 3 || err == nil || !strings.Contains(err.Error(), "500 busy") {
		t.Errorf("calls %d err %v", calls.Load(), err)
	}
}

func TestFailureStopsNewWorkAndSkipsDependents(t *testing.T) {
	release := make(chan struct{})
	var lateStarted atomic.Bool
	rec := &recorder{}
	g := graph(t,
		node("root", "p", create(func(context.Context, io.Writer) error { return errors.New("boom") })),
		node("slow", "p", create(func(context.Context, io.Writer) error { <-release; return nil })),
		node("child", "p", create(nil), "root"),
		node("grandchild", "p", create(nil), "child"),
		node("after-slow", "p", create(func(context.Context, io.Writer) error { lateStarted.Store(true); return nil }), "slow"),
	)
	go func() {
		// Let slow run on after root failed: running steps finish.
		for len(rec.of(StepFailed)) == 0 {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	res, err := Run(context.Background(), g, Options{Parallelism: 4, Sink: rec})
	if err == nil || err.Error() != "step root: boom" {
		t.Fatalf("err = %v, want only the root", err)
	}
	want := map[step.ID]Status{"root": Failed, "slow": Done, "child": Skipped, "grandchild": Skipped, "after-slow": Cancelled}
	for id, st := range want {
		if r, _ := res.Get(id); r.Status != st {
			t.Errorf("%s: %s, want %s (%s)", id, r.Status, st, r.Reason)
		}
	}
	if r, _ := res.Get("grandchild"); r.Reason != "needs root, which failed" {
		t.Errorf("reason %q", r.Reason)
	}
	if r, _ := res.Get("after-slow"); r.Reason != "not started: the run stopped after root failed" {
		t.Errorf("reason %q", r.Reason)
	}
	if lateStarted.Load() {
		t.Error("a step started after the failure")
	}
	if len(rec.of(StepSkipped)) != 2 {
		t.Errorf("skipped events %v", rec.of(StepSkipped))
	}
}

func TestConflictFailsWithoutApplyOrRetry(t *testing.T) {
	w := &fakeWork{change: step.Change{Action: step.Conflict, Reason: "vmid 101 exists and is not ours"}}
	_, err := Run(context.Background(), graph(t, node("guest/x", "p", w)), Options{Sleep: noSleep})
	var ce *ConflictError
	if !errors.As(err, &ce) || w.applied.Load() != 0 || !strings.Contains(err.Error(), "vmid 101 exists and is not ours") {
		t.Errorf("err %v applied %d", err, w.applied.Load())
	}
}

func TestUnchangedStepIsNotApplied(t *testing.T) {
	w := &fakeWork{change: step.Change{Action: step.None}}
	res, err := Run(context.Background(), graph(t, node("a", "p", w)), Options{})
	if err != nil || w.applied.Load() != 0 {
		t.Fatalf("err %v applied %d", err, w.applied.Load())
	}
	if r, _ := res.Get("a"); r.Status != Done || r.Change.Action != step.None {
		t.Errorf("%+v", r)
	}
}

func TestCancellationReturnsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	g := graph(t,
		node("blocked", "p", create(func(ctx context.Context, _ io.Writer) error { close(started); <-ctx.Done(); return ctx.Err() })),
		node("next", "p", create(nil), "blocked"),
	)
	go func() { <-started; cancel() }()
	begin := time.Now()
	res, err := Run(ctx, g, Options{})
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Run took %v after cancel", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	for _, id := range []step.ID{"blocked", "next"} {
		if r, _ := res.Get(id); r.Status != Cancelled {
			t.Errorf("%s: %s", id, r.Status)
		}
	}
}

func TestCancellationInterruptsBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := create(func(context.Context, io.Writer) error { cancel(); return step.Retryable(errors.New("busy")) })
	begin := time.Now()
	_, err := Run(ctx, graph(t, node("a", "p", w)), Options{Retry: RetryPolicy{MaxAttempts: 5, Initial: time.Hour, Max: time.Hour, Multiplier: 1}})
	if !errors.Is(err, context.Canceled) || time.Since(begin) > 2*time.Second {
		t.Errorf("err %v after %v", err, time.Since(begin))
	}
}

// With --strict-order a phase-2 step that needs nothing waits for all of
// phase 1; without it, it runs alongside.
func TestStrictOrderInsertsBarriers(t *testing.T) {
	for _, strict := range []bool{true, false} {
		var phase1Done atomic.Int32
		var sawEarly atomic.Bool
		release := make(chan struct{})
		g := graph(t,
			node("p1/a", "one", create(func(context.Context, io.Writer) error { <-release; phase1Done.Add(1); return nil })),
			node("p1/b", "one", create(func(context.Context, io.Writer) error { phase1Done.Add(1); return nil })),
			node("p2/x", "two", create(func(context.Context, io.Writer) error {
				if phase1Done.Load() < 2 {
					sawEarly.Store(true)
				}
				return nil
			})),
		)
		if !strict {
			// p2/x can only run while p1/a is held if there is no barrier.
			go func() {
				deadline := time.Now().Add(time.Second)
				for !sawEarly.Load() && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				close(release)
			}()
		} else {
			go func() { time.Sleep(20 * time.Millisecond); close(release) }()
		}
		if _, err := Run(context.Background(), g, Options{StrictOrder: strict, Parallelism: 4}); err != nil {
			t.Fatal(err)
		}
		if strict && sawEarly.Load() {
			t.Error("strict order: a phase-2 step ran before phase 1 finished")
		}
		if !strict && !sawEarly.Load() {
			t.Error("without strict order, the phase-2 step should not wait for phase 1")
		}
	}
}

func TestOutputBecomesEvents(t *testing.T) {
	rec := &recorder{}
	w := create(func(_ context.Context, out io.Writer) error {
		io.WriteString(out, "Reading package lists...\nBuilding dep")
		io.WriteString(out, "endency tree\r\npartial")
		return nil
	})
	if _, err := Run(context.Background(), graph(t, node("apt", "p", w)), Options{Sink: rec}); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range rec.of(StepOutput) {
		lines = append(lines, e.Line)
	}
	if strings.Join(lines, "|") != "Reading package lists...|Building dependency tree|partial" {
		t.Errorf("lines %q", lines)
	}
	kinds := []EventKind{}
	for _, e := range rec.events {
		if e.Kind != StepOutput {
			kinds = append(kinds, e.Kind)
		}
	}
	if fmt.Sprint(kinds) != "[started change done]" {
		t.Errorf("events %v", kinds)
	}
}

func TestRunRefusesUnrunnableGraphs(t *testing.T) {
	_, err := Run(context.Background(), graph(t, &step.Step{ID: "guest/x"}), Options{})
	if err == nil || err.Error() != "step guest/x cannot run: its phase is not wired to a provider yet" {
		t.Errorf("err = %v", err)
	}
	a := node("a", "p", create(nil))
	a.Locks = []step.Lock{{Key: "k", Capacity: 1}}
	b := node("b", "p", create(nil))
	b.Locks = []step.Lock{{Key: "k", Capacity: 2}}
	_, err = Run(context.Background(), graph(t, a, b), Options{})
	if err == nil || err.Error() != "lock k: step a says capacity 1, step b says 2" {
		t.Errorf("err = %v", err)
	}
}

func BenchmarkRun1000Steps(b *testing.B) {
	steps := make([]*step.Step, 1000)
	for i := range steps {
		steps[i] = node(fmt.Sprintf("s%d", i), fmt.Sprintf("p%d", i/250), &fakeWork{change: step.Change{Action: step.Create}})
		for _, d := range []int{1, 7, 31} {
			if i-d >= 0 && (i*d)%3 == 0 {
				steps[i].Needs = append(steps[i].Needs, step.ID(fmt.Sprintf("s%d", i-d)))
			}
		}
		steps[i].Locks = []step.Lock{{Key: fmt.Sprintf("node/%d", i%30), Capacity: 2}}
	}
	g := graph(b, steps...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), g, Options{Parallelism: 8}); err != nil {
			b.Fatal(err)
		}
	}
}
