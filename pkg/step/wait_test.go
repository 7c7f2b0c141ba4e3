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
