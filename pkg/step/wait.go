package step

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Wait is how a gate waits: it looks again until a look says done, for at
// most Timeout, pausing Poll between looks. When time is up it says what
// it waited for and what it saw last.
type Wait struct {
	// What is what it waits for, e.g. "https://10.0.0.11:6443/readyz to
	// answer ok".
	What    string
	Timeout time.Duration
	// Poll is the pause between looks (default one second).
	Poll time.Duration
	// Sleep pauses; nil means Sleep.
	Sleep func(context.Context, time.Duration) error
}

// Until runs look until it reports done, then writes what it saw last to
// out. An error from look ends the wait at once (a host that cannot be
// reached at all).
func (w Wait) Until(ctx context.Context, out io.Writer, look func(ctx context.Context) (done bool, seen string, err error)) error {
	sleep, poll := w.Sleep, w.Poll
	if sleep == nil {
		sleep = Sleep
	}
	if poll <= 0 {
		poll = time.Second
	}
	start := time.Now()
	for {
		done, seen, err := look(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", w.What, err)
		}
		if done {
			if seen != "" {
				fmt.Fprintln(out, seen)
			}
			return nil
		}
		if time.Since(start) >= w.Timeout {
			return fmt.Errorf("waited %s for %s; last saw: %s", w.Timeout, w.What, seen)
		}
		if err := sleep(ctx, poll); err != nil {
			return err
		}
	}
}
