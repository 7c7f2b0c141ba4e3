// Package view turns the engine's events into what people and tools read:
// plain timestamped lines, a JSON stream, and the summary at the end of a
// run. The engine never prints; views do.
package view

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/step"
)

// Plain writes one timestamped line per event, for logs and pipes.
type Plain struct {
	W     io.Writer
	start map[step.ID]time.Time
}

// Emit writes e.
func (p *Plain) Emit(e engine.Event) {
	if p.start == nil {
		p.start = map[step.ID]time.Time{}
	}
	ts := e.Time.Format("15:04:05")
	switch e.Kind {
	case engine.StepStarted:
		p.start[e.Step] = e.Time
		fmt.Fprintf(p.W, "%s start   %s\n", ts, e.Step)
	case engine.StepChange:
		if e.Change != nil && e.Change.Action != step.None {
			fmt.Fprintf(p.W, "%s %-8s%s\n", ts, e.Change.Action, e.Step)
		}
	case engine.StepOutput:
		fmt.Fprintf(p.W, "%s         %s | %s\n", ts, e.Step, e.Line)
	case engine.StepRetry:
		fmt.Fprintf(p.W, "%s retry   %s (attempt %d in %s): %s\n", ts, e.Step, e.Attempt, e.Delay.Round(time.Millisecond), e.Err)
	case engine.StepDone:
		fmt.Fprintf(p.W, "%s done    %s (%s)\n", ts, e.Step, e.Time.Sub(p.start[e.Step]).Round(time.Millisecond))
	case engine.StepFailed:
		fmt.Fprintf(p.W, "%s FAILED  %s: %s\n", ts, e.Step, e.Err)
	case engine.StepSkipped:
		fmt.Fprintf(p.W, "%s skipped %s: %s\n", ts, e.Step, e.Reason)
	}
}

// JSON writes each event as one line of JSON, for tools and journals.
type JSON struct {
	W io.Writer
}

// Emit writes e.
func (j JSON) Emit(e engine.Event) {
	b, _ := json.Marshal(e)
	j.W.Write(append(b, '\n'))
}

// Tee sends every event to each sink.
type Tee []engine.Sink

// Emit forwards e.
func (t Tee) Emit(e engine.Event) {
	for _, s := range t {
		if s != nil {
			s.Emit(e)
		}
	}
}

// Summary writes what a run did: per phase the steps created, changed,
// unchanged, run, failed and skipped and the phase's wall time; how long
// the run took; the slowest steps.
func Summary(w io.Writer, phases []string, phaseOf map[step.ID]string, res *engine.Result, took time.Duration) {
	type counts struct{ created, changed, unchanged, ran, failed, skipped int }
	per := map[string]*counts{}
	for _, p := range phases {
		per[p] = &counts{}
	}
	for _, s := range res.Steps {
		c := per[phaseOf[s.ID]]
		if c == nil {
			c = &counts{}
			per[phaseOf[s.ID]] = c
		}
		switch {
		case s.Status == engine.Failed:
			c.failed++
		case s.Status != engine.Done || s.Change.Action == step.Skip:
			c.skipped++
		case s.Change.Action.Creates():
			c.created++
		case s.Change.Action == step.Update || s.Change.Action == step.Delete:
			c.changed++
		case s.Change.Action == step.Run:
			c.ran++
		default:
			c.unchanged++
		}
	}
	wall := map[string]float64{}
	for _, ph := range Summarise(phases, phaseOf, res, took, time.Time{}, false).Phases {
		wall[ph.Name] = ph.Seconds
	}
	fmt.Fprintf(w, "\nSummary (%s):\n", took.Round(time.Millisecond))
	for _, p := range phases {
		c := per[p]
		fmt.Fprintf(w, "  %-14s %d created, %d changed, %d unchanged, %d ran", p, c.created, c.changed, c.unchanged, c.ran)
		if c.failed+c.skipped > 0 {
			fmt.Fprintf(w, ", %d failed, %d skipped", c.failed, c.skipped)
		}
		if s := wall[p]; s > 0 {
			fmt.Fprintf(w, " in %s", time.Duration(s*float64(time.Second)).Round(time.Millisecond))
		}
		fmt.Fprintln(w)
	}
	done := slices.Clone(res.Steps)
	done = slices.DeleteFunc(done, func(s engine.StepResult) bool { return s.Started.IsZero() || s.Ended.IsZero() })
	slices.SortFunc(done, func(a, b engine.StepResult) int {
		return int(b.Ended.Sub(b.Started) - a.Ended.Sub(a.Started))
	})
	if len(done) > 3 {
		done = done[:3]
	}
	if len(done) > 0 {
		parts := make([]string, len(done))
		for i, s := range done {
			parts[i] = fmt.Sprintf("%s %s", s.ID, s.Ended.Sub(s.Started).Round(time.Millisecond))
		}
		fmt.Fprintf(w, "  slowest: %s\n", strings.Join(parts, ", "))
	}
}
