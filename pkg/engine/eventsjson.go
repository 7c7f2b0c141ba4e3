package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ParseEventKind is the inverse of EventKind.String.
func ParseEventKind(name string) (EventKind, error) {
	if i := slices.Index(eventNames[:], name); i >= 0 {
		return EventKind(i), nil
	}
	return 0, fmt.Errorf("unknown event kind %q", name)
}

// UnmarshalJSON reads a kind written by MarshalJSON.
func (k *EventKind) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("event kind: %w", err)
	}
	v, err := ParseEventKind(s)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// streamRecord says whether kind is that of a record a front end adds to
// an event stream that is not an event, which ReadEvents passes over: the
// CLI ends "-o json" with a "summary" record (internal/view.SummaryKind).
func streamRecord(kind string) bool { return kind == "summary" }

// MaxEventLine is the longest line ReadEvents takes (a step's output line
// with its JSON around it).
const MaxEventLine = 4 << 20

// ReadEvents reads events written one JSON object a line (homelab's
// "-o json" and its run journals) back into Events, calling fn for each
// in order; fn's error stops the reading and is returned. A front end's
// own record (the CLI's final summary) is passed over; any other line that is not an event
// is an error naming its line number. Times come back
// without their monotonic clock reading (compare them with Time.Equal).
func ReadEvents(r io.Reader, fn func(Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxEventLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var head struct {
			Kind string `json:"kind"`
		}
		if json.Unmarshal(line, &head) == nil && streamRecord(head.Kind) {
			continue
		}
		var e Event
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("events line %d: %w", n, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("events: a line longer than %d bytes: %w", MaxEventLine, err)
		}
		return fmt.Errorf("events: %w", err)
	}
	return nil
}
