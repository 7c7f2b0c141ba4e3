package view

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/step"
)

// Live is the terminal view: finished steps scroll by as lines, and below
// them a block redrawn in place shows done/total and one line per running
// step with its elapsed time and retries.
type Live struct {
	W     io.Writer
	Total int
	// Color uses ANSI colours (off for NO_COLOR or a non-terminal).
	Color bool
	// Now tells the time; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	running map[step.ID]time.Time
	retries map[step.ID]int
	done    int
	failed  int
	drawn   int
	stop    chan struct{}
}

// Start redraws the block every interval until Stop, so elapsed times move
// while steps run.
func (l *Live) Start(interval time.Duration) {
	l.stop = make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.mu.Lock()
				l.redraw()
				l.mu.Unlock()
			}
		}
	}()
}

// Stop ends the redraws and leaves the last block on screen.
func (l *Live) Stop() {
	if l.stop != nil {
		close(l.stop)
		l.stop = nil
	}
}

func (l *Live) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Live) paint(code, s string) string {
	if !l.Color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Emit takes one event.
func (l *Live) Emit(e engine.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running == nil {
		l.running, l.retries = map[step.ID]time.Time{}, map[step.ID]int{}
	}
	l.clear()
	switch e.Kind {
	case engine.StepStarted:
		l.running[e.Step] = e.Time
	case engine.StepRetry:
		l.retries[e.Step]++
		fmt.Fprintf(l.W, "%s %s: %s (attempt %d in %s)\n", l.paint("33", "retry  "), e.Step, e.Err, e.Attempt, e.Delay.Round(time.Millisecond))
	case engine.StepDone:
		l.done++
		fmt.Fprintf(l.W, "%s %s (%s)\n", l.paint("32", "done   "), e.Step, e.Time.Sub(l.running[e.Step]).Round(100*time.Millisecond))
		delete(l.running, e.Step)
	case engine.StepFailed:
		l.failed++
		fmt.Fprintf(l.W, "%s %s: %s\n", l.paint("31", "FAILED "), e.Step, e.Err)
		delete(l.running, e.Step)
	case engine.StepSkipped:
		fmt.Fprintf(l.W, "%s %s: %s\n", l.paint("2", "skipped"), e.Step, e.Reason)
	}
	l.draw()
}

// clear erases the block drawn last.
func (l *Live) clear() {
	for ; l.drawn > 0; l.drawn-- {
		fmt.Fprint(l.W, "\x1b[1A\x1b[2K")
	}
}

func (l *Live) redraw() {
	l.clear()
	l.draw()
}

func (l *Live) draw() {
	ids := make([]step.ID, 0, len(l.running))
	for id := range l.running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	status := fmt.Sprintf("[%d/%d done", l.done, l.Total)
	if l.failed > 0 {
		status += fmt.Sprintf(", %d failed", l.failed)
	}
	fmt.Fprintf(l.W, "%s, %d running]\n", status, len(ids))
	l.drawn = 1
	now := l.now()
	for _, id := range ids {
		line := fmt.Sprintf("  %s %s", id, now.Sub(l.running[id]).Round(time.Second))
		if n := l.retries[id]; n > 0 {
			line += fmt.Sprintf(" (retried %d×)", n)
		}
		fmt.Fprintln(l.W, line)
		l.drawn++
	}
}
