package remote

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/homelabctl/homelab/pkg/step"
)

const (
	defaultConnectTimeout  = 45 * time.Second
	defaultConnectAttempts = 3
	defaultDialTimeout     = 10 * time.Second
	defaultBackoff         = 250 * time.Millisecond
	maxBackoff             = 5 * time.Second
)

// ConnectError is a host that did not answer within the connect budget:
// Attempts dials in Elapsed, the last failing with Last. The engine does
// not retry it (the budget is spent); NotAnswering recognises it.
type ConnectError struct {
	Host, Address string
	Attempts      int
	Elapsed       time.Duration
	// Budget is the connect timeout the attempts ran within.
	Budget time.Duration
	Last   error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("ssh %s: gave up connecting to %s after %d attempts in %s (connect budget %s): %v",
		e.Host, e.Address, e.Attempts, e.Elapsed.Round(time.Millisecond), e.Budget, e.Last)
}

func (e *ConnectError) Unwrap() error { return e.Last }

// permanentError is a dial failure that retrying cannot fix (authentication,
// host key, configuration).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// auth returns the authentication methods for cfg and a function releasing
// what they hold (the agent connection).
func auth(cfg *Config) ([]ssh.AuthMethod, func(), error) {
	signers := append([]ssh.Signer(nil), cfg.Signers...)
	if cfg.KeyFile != "" {
		pem, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("ssh %s: key: %w", cfg.name(), err)
		}
		s, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, nil, fmt.Errorf("ssh %s: key %s is encrypted: load it into ssh-agent and leave KeyFile empty", cfg.name(), cfg.KeyFile)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("ssh %s: key %s: %w", cfg.name(), cfg.KeyFile, err)
		}
		signers = append(signers, s)
	}
	if len(signers) > 0 {
		return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, func() {}, nil
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nil, fmt.Errorf("ssh %s: no key: set KeyFile or run an ssh-agent (SSH_AUTH_SOCK is empty)", cfg.name())
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh %s: ssh-agent: %w", cfg.name(), err)
	}
	ag := agent.NewClient(conn)
	return []ssh.AuthMethod{ssh.PublicKeysCallback(ag.Signers)}, func() { conn.Close() }, nil
}

// dial connects to cfg's host, retrying transient failures with bounded
// exponential backoff and jitter, at most ConnectAttempts times within
// the connect timeout. With a probe it only checks the host key (see
// CheckHostKey) and returns no client.
func (p *Pool) dial(ctx context.Context, cfg *Config, pr *probe) (*ssh.Client, error) {
	name := cfg.name()
	start := time.Now()
	deadline := start.Add(p.connectTimeout)
	delay := p.backoff
	var last error
	for attempt := 1; ; attempt++ {
		// The last attempt may not outlive the budget.
		actx, cancel := context.WithDeadline(ctx, deadline)
		c, err := p.dialOnce(actx, cfg, pr)
		cancel()
		if err == nil {
			if attempt > 1 {
				p.log.Info("ssh: connected", "host", name, "attempts", attempt)
			}
			return c, nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return nil, perm.err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh %s: connect: %w (last error: %v)", name, ctx.Err(), err)
		}
		last = err
		// Full jitter on the upper half: delay/2 .. delay.
		wait := delay/2 + rand.N(delay/2+1)
		if attempt >= p.connectAttempts || !time.Now().Add(wait).Before(deadline) {
			return nil, &ConnectError{Host: name, Address: cfg.Address, Attempts: attempt,
				Elapsed: time.Since(start), Budget: p.connectTimeout, Last: last}
		}
		p.log.Debug("ssh: dial failed, retrying", "host", name, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("ssh %s: connect: %w (last error: %v)", name, ctx.Err(), last)
		case <-t.C:
		}
		delay = min(delay*2, maxBackoff)
	}
}

// dialOnce makes one connection attempt (TCP, directly or through the jump
// host, then the SSH handshake).
func (p *Pool) dialOnce(ctx context.Context, cfg *Config, pr *probe) (*ssh.Client, error) {
	name := cfg.name()
	addr := hostKeyAddress(cfg.Address)
	check, algos, err := p.hostKeyCheck(cfg, pr)
	if err != nil {
		return nil, &permanentError{err}
	}
	var methods []ssh.AuthMethod
	if pr == nil {
		var release func()
		methods, release, err = auth(cfg)
		if err != nil {
			return nil, &permanentError{err}
		}
		defer release()
	}
	ccfg := &ssh.ClientConfig{
		User:              cfg.user(),
		Auth:              methods,
		HostKeyCallback:   check,
		HostKeyAlgorithms: algos,
	}
	actx, cancel := context.WithTimeout(ctx, p.dialTimeout)
	defer cancel()
	var conn net.Conn
	if cfg.Jump != nil {
		jh := p.hostFor(cfg.Jump)
		jump, err := jh.conn(ctx)
		if err != nil {
			// The jump host's own dial already retried until its deadline.
			return nil, &permanentError{fmt.Errorf("ssh %s: via jump host: %w", name, err)}
		}
		conn, err = jump.DialContext(actx, "tcp", addr)
		if err != nil {
			if !alive(jump) {
				jh.drop(jump) // the next attempt redials the jump host
			}
			return nil, fmt.Errorf("ssh %s: dial %s via %s: %w", name, addr, cfg.Jump.name(), err)
		}
	} else {
		dial := p.dialer
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		conn, err = dial(actx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: dial %s: %w", name, addr, err)
		}
	}
	// The handshake has no context: close the connection to abort it.
	stop := context.AfterFunc(actx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, ccfg)
	if !stop() {
		if err == nil {
			c.Close()
		}
		return nil, fmt.Errorf("ssh %s: handshake with %s: %w", name, addr, actx.Err())
	}
	if err != nil {
		conn.Close()
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, &permanentError{hk}
		}
		if pr != nil && pr.checked {
			// The probe offers no credentials: refused, as it should be,
			// after the host key passed.
			return nil, nil
		}
		err = fmt.Errorf("ssh %s: handshake with %s: %w", name, addr, err)
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, &permanentError{fmt.Errorf("%w (user %s)", err, cfg.user())}
		}
		return nil, err
	}
	if pr != nil {
		c.Close() // a host that lets anyone in: the key was checked all the same
		return nil, nil
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// NotAnswering reports whether err, from a call made under a deadline
// derived from ctx, says the host does not answer SSH (yet): a dial that
// can be retried, or the derived deadline. A cancelled ctx is not "not
// answering", nor is a command that ran and failed.
func NotAnswering(ctx context.Context, err error) bool {
	var ce *ConnectError
	return err != nil && ctx.Err() == nil && (step.IsRetryable(err) || errors.As(err, &ce) || errors.Is(err, context.DeadlineExceeded))
}

// Silence remembers, for a while, the hosts that did not answer. Observing
// a plan's many steps on a guest that does not exist yet then waits for it
// once, not once per step. Its zero value is ready to use; a nil *Silence
// remembers nothing.
type Silence struct {
	// For is how long a host stays silent after it did not answer;
	// zero means 30 seconds.
	For time.Duration

	mu    sync.Mutex
	until map[string]time.Time
}

// Quiet reports whether host did not answer less than For ago.
func (s *Silence) Quiet(host string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Before(s.until[host])
}

// Mark records that host did not answer now.
func (s *Silence) Mark(host string) {
	if s == nil {
		return
	}
	d := s.For
	if d <= 0 {
		d = 30 * time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.until == nil {
		s.until = map[string]time.Time{}
	}
	s.until[host] = time.Now().Add(d)
}
