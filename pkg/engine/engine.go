// Package engine runs a step graph: a step starts as soon as every step it
// needs is done, up to a parallelism limit, and only when it can take all
// its lock keys (each key has a capacity: one clone per template, N guest
// operations per Proxmox node). Errors marked retryable are retried with
// exponential backoff and jitter; others fail the step at once. When a step
// fails, nothing new starts, running steps finish, and the steps that need
// the failed one are skipped naming it as the root cause.
//
// The graph itself (steps, needs, cycle checks) lives in pkg/step; this
// package adds only scheduling. It never prints: it emits typed events to a
// Sink, and views decide what people see.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/homelabctl/homelab/pkg/step"
)

// Options tune Run. The zero value is usable.
type Options struct {
	// Parallelism is the most steps running at once; <= 0 means 4.
	Parallelism int
	// StrictOrder adds phase barriers: a step of a phase starts only after
	// every step of the earlier phases has finished.
	StrictOrder bool
	// Phases orders the phases for StrictOrder; when empty, the order in
	// which phases first appear among the graph's steps.
	Phases []string
	// Retry bounds retries; the zero value means DefaultRetryPolicy().
	Retry RetryPolicy
	// Observed are observations made just before the run (a plan's), by
	// step ID. A step observed to have nothing to write (None, or Run: a
	// gate or a wait) uses its observation instead of reading the lab
	// again, unless the observation could not read the resource yet
	// (Fresh) or a step it needs, directly or not, changed something in
	// this run. A step that writes always observes again right before.
	Observed map[step.ID]step.Change
	// Sink receives every event; nil drops them.
	Sink Sink
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Sleep waits between attempts; nil uses a timer. Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns numbers in [0, 1) for jitter; nil uses math/rand/v2.
	Rand func() float64
}

// Status is where a step ended up.
type Status int

// Statuses.
const (
	Pending Status = iota
	Done
	Failed
	Skipped
	Cancelled
)

var statusNames = [...]string{"pending", "done", "failed", "skipped", "cancelled"}

func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("status(%d)", int(s))
	}
	return statusNames[s]
}

// StepResult is what happened to one step.
type StepResult struct {
	ID       step.ID
	Status   Status
	Change   step.Change
	Attempts int
	Started  time.Time
	Ended    time.Time
	Err      error
	// Reason says why a step was skipped or cancelled.
	Reason string
}

// Result is what happened to every step, in graph order.
type Result struct {
	Steps []StepResult
}

// Get returns the result of one step.
func (r *Result) Get(id step.ID) (StepResult, bool) {
	for _, s := range r.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return StepResult{}, false
}

// StepError is the failure of one step: the root cause of a failed run.
type StepError struct {
	Step step.ID
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// ConflictError fails a step whose observation found a conflict.
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return "conflict: " + e.Reason }

// Run runs every step of g and returns what happened to each. The error
// names only the root failures (as *StepError), or wraps ctx.Err() when
// the run was cancelled.
func Run(ctx context.Context, g *step.Graph, opts Options) (*Result, error) {
	steps := g.Steps()
	for _, s := range steps {
		if s.Work == nil {
			return nil, fmt.Errorf("step %s cannot run: its phase is not wired to a provider yet", s.ID)
		}
	}
	lk, err := newLocks(steps)
	if err != nil {
		return nil, err
	}
	r := newRunner(g, steps, lk, opts)
	return r.run(ctx)
}

// finished is a worker's report of one step.
type finished struct {
	index    int
	change   step.Change
	attempts int
	err      error
	// wrote is true when the step applied a change that writes.
	wrote bool
}

// runner holds the state of one Run. Only the scheduler goroutine touches
// it, except emit, which is serialised by the events channel.
type runner struct {
	g       *step.Graph
	steps   []*step.Step
	locks   *locks
	opts    Options
	results []StepResult
	pending []int // needs not yet done, per step
	phase   []int // phase position, per step
	left    []int // unfinished steps per phase position
	// touched marks the steps that changed something in this run, or
	// need one that did (directly or not): their earlier observations of
	// what comes after them are stale.
	touched []bool
	// ready are the steps whose needs are done and that have not
	// started, most urgent first (see urgency); startReady walks only
	// them, not the whole graph.
	ready   []int
	urgency []int
	events  chan Event
	logger  *slog.Logger
	// workCtx is the context steps run under; cancelled when the run is.
	workCtx context.Context
}

func (r *runner) cancelled() bool { return r.workCtx.Err() != nil }

func newRunner(g *step.Graph, steps []*step.Step, lk *locks, opts Options) *runner {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 4
	}
	if opts.Retry.MaxAttempts == 0 {
		opts.Retry = DefaultRetryPolicy()
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &runner{g: g, steps: steps, locks: lk, opts: opts, logger: logger,
		results: make([]StepResult, len(steps)), pending: make([]int, len(steps)), phase: make([]int, len(steps)),
		touched: make([]bool, len(steps))}
	phases := slices.Clone(opts.Phases)
	for i, s := range steps {
		r.results[i] = StepResult{ID: s.ID}
		r.pending[i] = len(s.Needs)
		at := slices.Index(phases, s.Phase)
		if at < 0 {
			phases = append(phases, s.Phase)
			at = len(phases) - 1
		}
		r.phase[i] = at
	}
	r.left = make([]int, len(phases))
	for i := range steps {
		r.left[r.phase[i]]++
	}
	r.urgency = urgency(g, steps)
	for i := range steps {
		if r.pending[i] == 0 {
			r.ready = append(r.ready, i)
		}
	}
	slices.SortStableFunc(r.ready, r.moreUrgent)
	return r
}

// urgency is, per step, the longest chain of steps from it to the end of
// the graph (itself included). The runner starts the most urgent ready
// step first: a step on a long chain (a guest the cluster's first
// control plane runs on) goes before one nothing waits for (a guest no
// phase uses), where locks or the parallelism make them compete.
func urgency(g *step.Graph, steps []*step.Step) []int {
	u := make([]int, len(steps))
	order := g.Order()
	for k := len(order) - 1; k >= 0; k-- {
		i := g.Index(order[k].ID)
		u[i] = 1
		for _, d := range g.Dependents(order[k].ID) {
			u[i] = max(u[i], 1+u[g.Index(d)])
		}
	}
	return u
}

// moreUrgent orders ready steps: the longer chain first, then graph order.
func (r *runner) moreUrgent(a, b int) int {
	if r.urgency[a] != r.urgency[b] {
		return r.urgency[b] - r.urgency[a]
	}
	return a - b
}

// makeReady adds step i to the ready steps, in its place.
func (r *runner) makeReady(i int) {
	at, _ := slices.BinarySearchFunc(r.ready, i, r.moreUrgent)
	r.ready = slices.Insert(r.ready, at, i)
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	workCtx, cancelWork := context.WithCancel(ctx)
	defer cancelWork()
	r.workCtx = workCtx

	// One goroutine delivers events, so the sink is never called twice at once.
	r.events = make(chan Event, 64)
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		for e := range r.events {
			if r.opts.Sink != nil {
				r.opts.Sink.Emit(e)
			}
		}
	}()

	done := make(chan finished)
	running := 0
	var roots []error
	stopped := false // a failure or cancellation: start nothing new
	for {
		if !stopped {
			running += r.startReady(workCtx, done, running)
		}
		if running == 0 {
			break
		}
		select {
		case f := <-done:
			running--
			r.finish(f, &roots)
			if f.err != nil {
				stopped = true
			}
		case <-ctx.Done():
			if !stopped {
				stopped = true
				cancelWork()
			}
			// Keep collecting: running steps see the cancelled context.
			f := <-done
			running--
			r.finish(f, &roots)
		}
	}
	r.closeUnstarted(ctx, roots)
	close(r.events)
	<-delivered

	res := &Result{Steps: r.results}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("run cancelled: %w", err)
	}
	if len(roots) > 0 {
		return res, errors.Join(roots...)
	}
	return res, nil
}

// startReady starts, most urgent first, every step whose needs are done,
// whose phase may run and whose locks are free, up to the parallelism
// limit. It returns how many it started.
func (r *runner) startReady(ctx context.Context, done chan<- finished, running int) int {
	started := 0
	kept := r.ready[:0]
	for k, i := range r.ready {
		if running+started >= r.opts.Parallelism {
			kept = append(kept, r.ready[k:]...)
			break
		}
		s := r.steps[i]
		res := &r.results[i]
		if res.Status != Pending || !res.Started.IsZero() {
			continue // skipped or cancelled meanwhile
		}
		if r.opts.StrictOrder && !r.phaseOpen(r.phase[i]) || !r.locks.tryAcquire(s) {
			kept = append(kept, i)
			continue
		}
		res.Started = time.Now()
		r.emit(Event{Kind: StepStarted, Step: s.ID, Phase: s.Phase, Attempt: 1})
		started++
		prior, reuse := r.reusable(i)
		go func() { done <- r.attempt(ctx, i, prior, reuse) }()
	}
	r.ready = kept
	return started
}

// reusable returns the observation step i may use instead of observing:
// one made before the run that writes nothing and that nothing this run
// did since can have made stale. It also marks step i touched when a step
// it needs is.
func (r *runner) reusable(i int) (step.Change, bool) {
	s := r.steps[i]
	for _, n := range s.Needs {
		if r.touched[r.g.Index(n)] {
			r.touched[i] = true
		}
	}
	prior, ok := r.opts.Observed[s.ID]
	if !ok || r.touched[i] || prior.Fresh {
		return step.Change{}, false
	}
	return prior, prior.Action == step.None || prior.Action == step.Run
}

// phaseOpen reports whether every step of the earlier phases has finished.
func (r *runner) phaseOpen(at int) bool {
	for p := range at {
		if r.left[p] > 0 {
			return false
		}
	}
	return true
}

// attempt runs a step until it succeeds, fails for good, or runs out of
// attempts. It runs on a worker goroutine and touches no runner state but
// the events channel.
func (r *runner) attempt(ctx context.Context, i int, prior step.Change, reuse bool) finished {
	s := r.steps[i]
	out := &lineWriter{emit: func(line string) {
		r.emit(Event{Kind: StepOutput, Step: s.ID, Phase: s.Phase, Line: line})
	}}
	var change step.Change
	for n := 1; ; n++ {
		var err error
		change, err = r.once(ctx, s, out, prior, reuse && n == 1)
		out.flush()
		wrote := change.Action.Changes()
		if err == nil {
			return finished{index: i, change: change, attempts: n, wrote: wrote}
		}
		if !step.IsRetryable(err) || n >= r.opts.Retry.MaxAttempts || ctx.Err() != nil {
			return finished{index: i, change: change, attempts: n, err: err, wrote: wrote}
		}
		delay := r.opts.Retry.delay(n, r.opts.Rand)
		r.emit(Event{Kind: StepRetry, Step: s.ID, Phase: s.Phase, Attempt: n + 1, Delay: delay, Err: err.Error()})
		r.logger.Debug("retrying step", "step", s.ID, "attempt", n+1, "delay", delay, "error", err)
		if err := r.opts.Sleep(ctx, delay); err != nil {
			return finished{index: i, change: change, attempts: n, err: err}
		}
	}
}

// once observes the step (or takes its earlier observation, when reuse)
// and applies what it observed.
func (r *runner) once(ctx context.Context, s *step.Step, out *lineWriter, prior step.Change, reuse bool) (step.Change, error) {
	change := prior
	if !reuse {
		var err error
		if change, err = s.Work.Observe(ctx); err != nil {
			return change, fmt.Errorf("observe: %w", err)
		}
	}
	r.emit(Event{Kind: StepChange, Step: s.ID, Phase: s.Phase, Change: &change})
	switch change.Action {
	case step.None, step.Skip:
		return change, nil
	case step.Conflict:
		return change, &ConflictError{Reason: change.Reason}
	}
	if err := s.Work.Apply(ctx, change, out); err != nil {
		return change, err
	}
	return change, nil
}

// finish records a worker's report and releases what the step held.
func (r *runner) finish(f finished, roots *[]error) {
	s := r.steps[f.index]
	res := &r.results[f.index]
	r.locks.release(s)
	r.left[r.phase[f.index]]--
	if f.wrote {
		r.touched[f.index] = true
	}
	res.Ended, res.Change, res.Attempts = time.Now(), f.change, f.attempts
	if f.err != nil {
		res.Status, res.Err = Failed, f.err
		r.emit(Event{Kind: StepFailed, Step: s.ID, Phase: s.Phase, Attempt: f.attempts, Err: f.err.Error()})
		if r.cancelled() && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
			// Not a root cause: the run was cancelled under it.
			res.Status, res.Reason = Cancelled, "cancelled while running"
			return
		}
		*roots = append(*roots, &StepError{Step: s.ID, Err: f.err})
		r.skipDependents(f.index, s.ID)
		return
	}
	res.Status = Done
	r.emit(Event{Kind: StepDone, Step: s.ID, Phase: s.Phase, Attempt: f.attempts})
	for _, dep := range r.g.Dependents(s.ID) {
		j := r.g.Index(dep)
		if r.pending[j]--; r.pending[j] == 0 {
			r.makeReady(j)
		}
	}
}

// skipDependents marks every step that needs root, directly or not.
func (r *runner) skipDependents(i int, root step.ID) {
	for _, dep := range r.g.Dependents(r.steps[i].ID) {
		j := r.g.Index(dep)
		res := &r.results[j]
		if res.Status != Pending || !res.Started.IsZero() {
			continue
		}
		res.Status = Skipped
		res.Reason = fmt.Sprintf("needs %s, which failed", root)
		r.left[r.phase[j]]--
		r.emit(Event{Kind: StepSkipped, Step: dep, Phase: r.steps[j].Phase, Reason: res.Reason})
		r.skipDependents(j, root)
	}
}

// closeUnstarted marks the steps that never started once the run stopped.
func (r *runner) closeUnstarted(ctx context.Context, roots []error) {
	reason := "not started: the run was cancelled"
	if ctx.Err() == nil && len(roots) > 0 {
		var se *StepError
		errors.As(roots[0], &se)
		reason = fmt.Sprintf("not started: the run stopped after %s failed", se.Step)
	}
	for i := range r.results {
		res := &r.results[i]
		if res.Status == Pending && res.Started.IsZero() {
			res.Status, res.Reason = Cancelled, reason
		}
	}
}

func (r *runner) emit(e Event) {
	e.Time = time.Now()
	r.events <- e
}
