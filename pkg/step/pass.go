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

// HostRead is one read a step makes on a host while it observes: a
// script run there (Script), or a file read (Path).
type HostRead struct {
	// Host is the guest's inventory name.
	Host   string
	Script string
	Path   string
}

// HostReader is a Work that says which reads its Observe makes on hosts,
// so that an observation pass gathers each host's facts in one command
// (see Declare). A read it makes without declaring it still works, as a
// command of its own.
type HostReader interface {
	HostReads() []HostRead
}

type declaredKey struct{}

// Declare records in the pass what its steps will read on hosts; outside
// a pass it does nothing.
func Declare(ctx context.Context, reads []HostRead) {
	p, ok := ctx.Value(passKey{}).(*pass)
	if !ok {
		return
	}
	byHost := map[string][]HostRead{}
	seen := map[HostRead]bool{}
	for _, r := range reads {
		if !seen[r] {
			seen[r] = true
			byHost[r.Host] = append(byHost[r.Host], r)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads[declaredKey{}] = &read{v: byHost}
}

// Declared returns what the pass's steps said they will read on host.
func Declared(ctx context.Context, host string) []HostRead {
	p, ok := ctx.Value(passKey{}).(*pass)
	if !ok {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.reads[declaredKey{}]
	if !ok {
		return nil
	}
	return r.v.(map[string][]HostRead)[host]
}
