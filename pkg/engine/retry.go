package engine

import (
	"context"
	"math"
	"time"

	"github.com/homelabctl/homelab/pkg/step"
)

// RetryPolicy bounds the retries of a step whose error is marked
// retryable (step.Retryable). Other errors never retry.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included.
	MaxAttempts int
	// Initial is the delay before the second attempt; each next delay is
	// Multiplier times the previous, up to Max.
	Initial, Max time.Duration
	Multiplier   float64
	// Jitter spreads each delay by up to ±Jitter of itself, so that steps
	// that failed together do not retry together.
	Jitter float64
}

// DefaultRetryPolicy is 5 attempts, 1s doubling up to 30s, ±20% jitter.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, Initial: time.Second, Max: 30 * time.Second, Multiplier: 2, Jitter: 0.2}
}

// delay returns the backoff after the given failed attempt (1-based);
// random returns a number in [0, 1).
func (p RetryPolicy) delay(attempt int, random func() float64) time.Duration {
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(attempt-1))
	if d > float64(p.Max) {
		d = float64(p.Max)
	}
	if p.Jitter > 0 {
		d *= 1 + p.Jitter*(2*random()-1)
	}
	return time.Duration(d)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error { return step.Sleep(ctx, d) }
