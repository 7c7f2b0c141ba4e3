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
func (w Wait) Until(ctx context.Context, out io.Writer, look Look) error {
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

// Look is one look of a gate: whether what it waits for is so, and what
// it saw. An error says it could not look at all.
type Look func(ctx context.Context) (done bool, seen string, err error)

// Observe is how a gate observes: c (its Run) as it is, and while a plan
// observes (InPass), after one look, which the pass gathers with the
// host's other facts. When that look finds what the gate waits for, c
// comes back Passed with what it saw, and a run that takes the plan's
// observation (nothing the gate needs changed since) does not look
// again. A look that fails or finds it not so leaves c as it is: the run
// waits as ever. Outside a pass it does not look: Apply is about to.
func (w Wait) Observe(ctx context.Context, c Change, look Look) Change {
	if !InPass(ctx) {
		return c
	}
	done, seen, err := look(ctx)
	if err != nil || !done {
		return c
	}
	if seen == "" {
		seen = "it passed"
	}
	c.Passed, c.PassedAt = seen, time.Now()
	return c
}

// PassedFresh is how long a gate's look while planning stands for the run:
// a run that starts later (an `up` that waited for its approval) looks
// again.
const PassedFresh = time.Minute

// Apply is how a gate applies c: when c passed while the plan observed
// (see Observe), it says what it saw then and does not look again;
// otherwise it waits Until look says done.
func (w Wait) Apply(ctx context.Context, c Change, out io.Writer, look Look) error {
	if PassedWhilePlanning(c, out) {
		return nil
	}
	return w.Until(ctx, out, look)
}

// PassedWhilePlanning reports whether c is a gate's Run that passed while
// the plan observed (see Wait.Observe) at most PassedFresh ago, and if so
// writes what it saw then to out.
func PassedWhilePlanning(c Change, out io.Writer) bool {
	if c.Passed == "" || time.Since(c.PassedAt) > PassedFresh {
		return false
	}
	fmt.Fprintln(out, c.Passed+" (seen while planning)")
	return true
}
