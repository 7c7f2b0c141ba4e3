package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/step"
)

// While a plan observes (step.WithPass), what its steps read on a host is
// gathered in one command: the steps declare their reads (step.HostReader),
// the first read on a host runs all of that host's declared reads as one
// script, and every step takes its part of the answer. A read nobody
// declared runs as a command of its own, once per pass however many
// steps make it. A declared read that fails is run again on its own, so
// that its error carries its own stderr.

// factsKey names a host's gathered facts in a pass; commandKey one
// undeclared command.
type factsKey struct{ h *host }
type commandKey struct {
	h      *host
	script string
}

// notThere is the status a gathered file read exits with when the file
// does not exist.
const notThere = 44

// gatherTimeout bounds the command that gathers a host's facts.
const gatherTimeout = 2 * time.Minute

// factAnswer is one declared read's part of the answer.
type factAnswer struct {
	status int
	stdout []byte
}

type gathered struct {
	probes map[step.HostRead]factAnswer
}

type shared struct {
	res Result
	err error
}

// observedRun runs cmd in an observation pass: from the host's gathered
// facts when declared, else once per pass.
func (h *host) observedRun(ctx context.Context, cmd Command) (Result, error) {
	if p, ok, err := h.fact(ctx, step.HostRead{Host: h.cfg.name(), Script: cmd.Script}); err != nil {
		return Result{ExitStatus: -1}, err
	} else if ok && p.status == 0 {
		return Result{Stdout: p.stdout}, nil
	}
	s, _ := step.Shared(ctx, commandKey{h, cmd.Script}, func(ctx context.Context) (shared, error) {
		res, err := h.run(ctx, cmd)
		return shared{res, err}, nil
	})
	return s.res, s.err
}

// fact returns the answer of a declared read on h, gathering the host's
// facts on first use; ok is false when r was not declared.
func (h *host) fact(ctx context.Context, r step.HostRead) (factAnswer, bool, error) {
	declared := step.Declared(ctx, h.cfg.name())
	found := false
	for _, d := range declared {
		found = found || d == r
	}
	if !found {
		return factAnswer{}, false, nil
	}
	g, err := step.Shared(ctx, factsKey{h}, func(ctx context.Context) (gathered, error) {
		return h.gather(ctx, declared)
	})
	if err != nil {
		return factAnswer{}, false, err
	}
	p, ok := g.probes[r]
	return p, ok, nil
}

// gather runs every read in one command and splits its answer.
func (h *host) gather(ctx context.Context, reads []step.HostRead) (gathered, error) {
	b := make([]byte, 8)
	rand.Read(b)
	token := "@@homelab-" + hex.EncodeToString(b)
	var script strings.Builder
	for i, r := range reads {
		body := r.Script
		if r.Path != "" {
			body = fmt.Sprintf("test -e %s || exit %d\ncat %s", Quote(r.Path), notThere, Quote(r.Path))
		}
		fmt.Fprintf(&script, "printf '%s %d\\n'\n(\n%s\n) 2>/dev/null\nprintf '\\n%s %d %%d\\n' \"$?\"\n", token, i, body, token, i)
	}
	res, err := h.run(ctx, Command{Script: script.String(), Timeout: gatherTimeout})
	if err != nil {
		return gathered{}, fmt.Errorf("gather the facts of %s: %w", h.cfg.name(), err)
	}
	out := res.Stdout
	g := gathered{probes: map[step.HostRead]factAnswer{}}
	for i, r := range reads {
		head := []byte(fmt.Sprintf("%s %d\n", token, i))
		tail := []byte(fmt.Sprintf("\n%s %d ", token, i))
		if !bytes.HasPrefix(out, head) {
			return gathered{}, fmt.Errorf("gather the facts of %s: the answer lacks read %d", h.cfg.name(), i)
		}
		out = out[len(head):]
		end := bytes.Index(out, tail)
		if end < 0 {
			return gathered{}, fmt.Errorf("gather the facts of %s: read %d has no end", h.cfg.name(), i)
		}
		stdout := out[:end]
		out = out[end+len(tail):]
		nl := bytes.IndexByte(out, '\n')
		if nl < 0 {
			return gathered{}, fmt.Errorf("gather the facts of %s: read %d has no status", h.cfg.name(), i)
		}
		status, err := strconv.Atoi(string(out[:nl]))
		if err != nil {
			return gathered{}, fmt.Errorf("gather the facts of %s: read %d: status %q", h.cfg.name(), i, out[:nl])
		}
		out = out[nl+1:]
		g.probes[r] = factAnswer{status: status, stdout: bytes.Clone(stdout)}
	}
	return g, nil
}
