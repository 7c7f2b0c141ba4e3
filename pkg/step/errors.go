package step

import (
	"context"
	"errors"
	"time"
)

// retryable marks an error as transient: the engine may run the step again.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// Retryable marks err as transient (a dropped connection, a lock timeout, a
// 5xx): the engine retries the step with backoff. Errors not marked are
// never retried. Retryable(nil) is nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryable{err: err}
}

// IsRetryable reports whether err, or any error it wraps, was marked by
// Retryable.
func IsRetryable(err error) bool {
	var r *retryable
	return errors.As(err, &r)
}

// Sleep waits for d or until ctx is done, for the waits inside a step's
// work (redials, polls) that must stop when the run is cancelled.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
