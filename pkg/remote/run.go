package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/step"
)

const (
	commandLen = 120 // longest command shown in messages
	stderrTail = 512 // bytes of stderr kept in an ExitError
)

// lockedBuffer is a bytes.Buffer safe to read while the session writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// Run runs cmd. See Host.
func (h *host) Run(ctx context.Context, cmd Command) (Result, error) {
	if step.InPass(ctx) && cmd.Stdin == nil && cmd.Stdout == nil && cmd.Stderr == nil {
		return h.observedRun(ctx, cmd)
	}
	return h.run(ctx, cmd)
}

// run runs cmd on the host. See Run.
func (h *host) run(ctx context.Context, cmd Command) (Result, error) {
	name := h.cfg.name()
	shown := shorten(Redact(cmd.Script, cmd.Secrets), commandLen)
	script := cmd.Script
	if h.cfg.sudo() {
		script = sudoWrap(script)
	}
	c, sess, err := h.session(ctx)
	if err != nil {
		return Result{ExitStatus: -1}, fmt.Errorf("%w (running %q)", redactErr(err, cmd.Secrets), shown)
	}
	defer sess.Close()

	var stdout, stderr lockedBuffer
	sess.Stdout, sess.Stderr = io.Writer(&stdout), io.Writer(&stderr)
	// The caller's writers get nothing after Run returns, even from a
	// session cancelled while its output was still being copied.
	var cut cutoff
	defer cut.close()
	if cmd.Stdout != nil {
		sess.Stdout = io.MultiWriter(&stdout, cut.writer(cmd.Stdout))
	}
	if cmd.Stderr != nil {
		sess.Stderr = io.MultiWriter(&stderr, cut.writer(cmd.Stderr))
	}
	sess.Stdin = cmd.Stdin

	h.pool.log.Debug("ssh run", "host", name, "cmd", shown)
	if err := sess.Start(script); err != nil {
		return Result{ExitStatus: -1}, h.transport(c, fmt.Errorf("ssh %s: %q: start: %w", name, shown, redactErr(err, cmd.Secrets)))
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()

	var timeout <-chan time.Time
	if cmd.Timeout > 0 {
		t := time.NewTimer(cmd.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	result := func(status int) Result {
		return Result{ExitStatus: status, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	}
	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		return result(-1), fmt.Errorf("ssh %s: %q: %w", name, shown, ctx.Err())
	case <-timeout:
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		return result(-1), fmt.Errorf("ssh %s: %q: timed out after %s: %w", name, shown, cmd.Timeout, context.DeadlineExceeded)
	}

	var exit *ssh.ExitError
	switch {
	case waitErr == nil:
		h.pool.log.Debug("ssh run done", "host", name, "cmd", shown, "status", 0)
		return result(0), nil
	case errors.As(waitErr, &exit):
		r := result(exit.ExitStatus())
		h.pool.log.Debug("ssh run done", "host", name, "cmd", shown, "status", r.ExitStatus)
		return r, &ExitError{Host: name, Command: shown, Status: r.ExitStatus,
			Stderr: tail([]byte(Redact(string(r.Stderr), cmd.Secrets)), stderrTail)}
	default:
		// No exit status: the connection broke while the command ran.
		h.drop(c)
		return result(-1), step.Retryable(fmt.Errorf("ssh %s: %q: connection lost: %w", name, shown, redactErr(waitErr, cmd.Secrets)))
	}
}

// redactErr returns err with secrets removed from its message (keeping
// nothing of its chain but its text and retryable mark).
func redactErr(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	red := Redact(msg, secrets)
	if red == msg {
		return err
	}
	out := errors.New(red)
	var ce *ConnectError
	if errors.As(err, &ce) {
		// Still a host that did not answer (NotAnswering), redacted.
		c := *ce
		c.Last = errors.New(Redact(ce.Last.Error(), secrets))
		out = &redacted{msg: red, err: &c}
	}
	if step.IsRetryable(err) {
		return step.Retryable(out)
	}
	return out
}

// redacted is an error whose message had secrets removed, wrapping what
// its chain must still say (a *ConnectError).
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// cutoff hands writes on to writers until it is closed, and drops them
// after.
type cutoff struct {
	mu     sync.Mutex
	closed bool
}

func (c *cutoff) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

func (c *cutoff) writer(w io.Writer) io.Writer { return cutoffWriter{c, w} }

type cutoffWriter struct {
	c *cutoff
	w io.Writer
}

func (cw cutoffWriter) Write(p []byte) (int, error) {
	cw.c.mu.Lock()
	defer cw.c.mu.Unlock()
	if cw.c.closed {
		return len(p), nil
	}
	return cw.w.Write(p)
}
