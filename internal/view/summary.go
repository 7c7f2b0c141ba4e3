package view

import (
	"encoding/json"
	"io"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/step"
)

// SummaryKind is the kind of the run summary, the last line of a run's
// JSON stream (the events before it have the engine's kinds).
const SummaryKind = "summary"

// RunSummary is what a run did, in one JSON line at the end of -o json:
// how long it took, the steps counted by what they did (the action of the
// steps that finished: create, update, delete, run, none), and the same
// per phase with its duration and each step's.
type RunSummary struct {
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
	// Succeeded is false when a step failed or the run stopped early.
	Succeeded bool    `json:"succeeded"`
	Seconds   float64 `json:"duration_seconds"`
	Counts
	Phases  []PhaseSummary `json:"phases"`
	Results []StepSummary  `json:"results"`
}

// Counts are steps counted by outcome: Actions by what the finished ones
// did, then those that failed and those that never ran (skipped after a
// failure, or cancelled).
type Counts struct {
	Steps   int            `json:"steps"`
	Actions map[string]int `json:"actions"`
	Failed  int            `json:"failed"`
	Skipped int            `json:"skipped"`
}

// PhaseSummary is one phase of a run. Seconds is its wall time, from its
// first step's start to its last step's end (phases overlap unless the run
// is --strict-order); StepSeconds adds up its steps' durations.
type PhaseSummary struct {
	Name        string  `json:"name"`
	Seconds     float64 `json:"duration_seconds"`
	StepSeconds float64 `json:"step_seconds"`
	Counts
}

// StepSummary is one step's outcome and duration (0 for a step that never
// started).
type StepSummary struct {
	ID      step.ID `json:"id"`
	Phase   string  `json:"phase"`
	Status  string  `json:"status"`
	Action  string  `json:"action,omitempty"`
	Seconds float64 `json:"duration_seconds"`
}

// Summarise makes the summary of a run of the phases (in plan order) that
// took took.
func Summarise(phases []string, phaseOf map[step.ID]string, res *engine.Result, took time.Duration, end time.Time, failed bool) RunSummary {
	s := RunSummary{Kind: SummaryKind, Time: end, Succeeded: !failed, Seconds: took.Seconds(), Counts: Counts{Actions: map[string]int{}}}
	type span struct{ first, last time.Time }
	per := make(map[string]*PhaseSummary, len(phases))
	spans := map[string]*span{}
	for _, name := range phases {
		per[name] = &PhaseSummary{Name: name, Counts: Counts{Actions: map[string]int{}}}
		spans[name] = &span{}
	}
	for _, r := range res.Steps {
		name := phaseOf[r.ID]
		ph := per[name]
		if ph == nil {
			ph = &PhaseSummary{Name: name, Counts: Counts{Actions: map[string]int{}}}
			per[name], spans[name] = ph, &span{}
			phases = append(phases, name)
		}
		st := StepSummary{ID: r.ID, Phase: name, Status: r.Status.String()}
		if !r.Started.IsZero() && !r.Ended.IsZero() {
			st.Seconds = r.Ended.Sub(r.Started).Seconds()
			sp := spans[name]
			if sp.first.IsZero() || r.Started.Before(sp.first) {
				sp.first = r.Started
			}
			if r.Ended.After(sp.last) {
				sp.last = r.Ended
			}
		}
		ph.StepSeconds += st.Seconds
		for _, c := range []*Counts{&s.Counts, &ph.Counts} {
			c.Steps++
			switch r.Status {
			case engine.Done:
				c.Actions[r.Change.Action.Name()]++
			case engine.Failed:
				c.Failed++
			default:
				c.Skipped++
			}
		}
		if r.Status == engine.Done {
			st.Action = r.Change.Action.Name()
		}
		s.Results = append(s.Results, st)
	}
	for _, name := range phases {
		ph := per[name]
		if sp := spans[name]; !sp.first.IsZero() {
			ph.Seconds = sp.last.Sub(sp.first).Seconds()
		}
		s.Phases = append(s.Phases, *ph)
	}
	return s
}

// WriteJSON writes the summary as one line of JSON.
func (s RunSummary) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
