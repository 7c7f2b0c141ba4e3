package engine

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/homelabctl/homelab/pkg/step"
)

// EventKind says what happened to a step.
type EventKind int

// The kinds of event, in the order a step meets them.
const (
	StepStarted EventKind = iota
	StepChange
	StepOutput
	StepRetry
	StepDone
	StepFailed
	StepSkipped
)

var eventNames = [...]string{"started", "change", "output", "retry", "done", "failed", "skipped"}

func (k EventKind) String() string {
	if k < 0 || int(k) >= len(eventNames) {
		return fmt.Sprintf("event(%d)", int(k))
	}
	return eventNames[k]
}

// MarshalJSON writes the kind as its name.
func (k EventKind) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// Event is a typed record of what happened to a step. Every front end (the
// terminal view, --output json, the run journal) consumes the same events.
type Event struct {
	Kind    EventKind `json:"kind"`
	Step    step.ID   `json:"step"`
	Phase   string    `json:"phase"`
	Time    time.Time `json:"time"`
	Attempt int       `json:"attempt,omitempty"`
	// Change is what the step observed it would do (StepChange).
	Change *step.Change `json:"change,omitempty"`
	// Line is one line of the step's output (StepOutput).
	Line string `json:"line,omitempty"`
	// Delay is the backoff before the next attempt (StepRetry).
	Delay time.Duration `json:"delay,omitempty"`
	// Err is the error that failed an attempt or the step.
	Err string `json:"error,omitempty"`
	// Reason says why a step was skipped.
	Reason string `json:"reason,omitempty"`
}

// Sink receives events. The engine never calls Emit from two goroutines at
// once, so a Sink need not be safe for concurrent use.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Emit calls f.
func (f SinkFunc) Emit(e Event) { f(e) }
