package step

import (
	"context"
	"sync"
)

// A pass is one round of observation (a plan observing every step): the
// reads its steps make are shared, so that a menu, a cluster list or a
// file is read once however many steps look at it. Observing only reads,
// so nothing a pass remembers can have been changed by the pass itself;
// a run that writes observes again outside any pass.
type pass struct {
	mu    sync.Mutex
	reads map[any]*read
}

type read struct {
	done chan struct{}
	v    any
	err  error
}

type passKey struct{}

// WithPass returns a context for one observation pass: Shared reads made
// under it are made once and shared until the pass ends with the context.
func WithPass(ctx context.Context) context.Context {
	return context.WithValue(ctx, passKey{}, &pass{reads: map[any]*read{}})
}

// InPass reports whether ctx belongs to an observation pass.
func InPass(ctx context.Context) bool {
	_, ok := ctx.Value(passKey{}).(*pass)
	return ok
}

// Shared returns what fetch returns for key, calling it at most once per
// observation pass (concurrent callers wait for the first one); outside a
// pass it always calls fetch. A failed read is not kept: the next caller
// reads again. key must be comparable and name the client it reads
// through (a pointer), so that two clients never share a read.
func Shared[T any](ctx context.Context, key any, fetch func(context.Context) (T, error)) (T, error) {
	p, ok := ctx.Value(passKey{}).(*pass)
	if !ok {
		return fetch(ctx)
	}
	p.mu.Lock()
	r, found := p.reads[key]
	if !found {
		r = &read{done: make(chan struct{})}
		p.reads[key] = r
	}
	p.mu.Unlock()
	if found {
		select {
		case <-r.done:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
		if r.err != nil {
			var zero T
			return zero, r.err
		}
		return r.v.(T), nil
	}
	v, err := fetch(ctx)
	r.v, r.err = v, err
	if err != nil {
		p.mu.Lock()
		delete(p.reads, key)
		p.mu.Unlock()
	}
	close(r.done)
	return v, err
}
