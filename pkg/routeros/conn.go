package routeros

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ros "github.com/go-routeros/routeros/v3"

	"github.com/homelabctl/homelab/pkg/step"
)

// Conn is one RouterOS API session used the safe way (research/routeros.md
// §1.4): go-routeros in synchronous mode, one command at a time (a mutex),
// over a connection that sets a deadline on every read and write, because
// go-routeros's login and synchronous Run ignore contexts. A broken session
// is dropped and the next command dials again.
type Conn struct {
	mu      sync.Mutex
	client  *ros.Client
	raw     net.Conn
	address string
	user    string
	pass    string
	tls     *tls.Config
	timeout time.Duration
	logger  *slog.Logger
	// closing shortens the deadlines of the session's last words (/quit).
	closing *atomic.Bool
}

// quitWait bounds how long Close waits for the router to answer /quit.
const quitWait = 500 * time.Millisecond

// NewConn returns a session that dials address (host:port) on first use.
// tlsConfig nil means the plain API. timeout bounds every read and write.
func NewConn(address, user, password string, tlsConfig *tls.Config, timeout time.Duration) *Conn {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Conn{address: address, user: user, pass: password, tls: tlsConfig, timeout: timeout, logger: slog.New(slog.DiscardHandler)}
}

// SetLogger sets the logger that hears which router a session reached
// (its RouterOS version and board); nil discards.
func (c *Conn) SetLogger(l *slog.Logger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	c.logger = l
}

// deadlineConn refreshes the deadline before every read and write, so a
// router that stops answering fails the command instead of hanging it.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
	closing *atomic.Bool
}

func (c deadlineConn) deadline() time.Time {
	if c.closing != nil && c.closing.Load() {
		return time.Now().Add(min(c.timeout, quitWait))
	}
	return time.Now().Add(c.timeout)
}

func (c deadlineConn) Read(b []byte) (int, error) {
	c.SetReadDeadline(c.deadline())
	return c.Conn.Read(b)
}

func (c deadlineConn) Write(b []byte) (int, error) {
	c.SetWriteDeadline(c.deadline())
	return c.Conn.Write(b)
}

func (c *Conn) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: c.timeout}
	var raw net.Conn
	var err error
	if c.tls != nil {
		raw, err = (&tls.Dialer{NetDialer: &d, Config: c.tls}).DialContext(ctx, "tcp", c.address)
	} else {
		raw, err = d.DialContext(ctx, "tcp", c.address)
	}
	if err != nil {
		return step.Retryable(fmt.Errorf("dial router %s: %w", c.address, err))
	}
	closing := new(atomic.Bool)
	client, err := ros.NewClient(deadlineConn{Conn: raw, timeout: c.timeout, closing: closing})
	if err != nil {
		raw.Close()
		return step.Retryable(fmt.Errorf("router %s: %w", c.address, err))
	}
	if err := client.Login(c.user, c.pass); err != nil {
		client.Close()
		var de *ros.DeviceError
		if errors.As(err, &de) {
			return fmt.Errorf("log in to router %s as %s: %s", c.address, c.user, de.Sentence.Map["message"])
		}
		return step.Retryable(fmt.Errorf("log in to router %s: %w", c.address, err))
	}
	if err := c.identify(client); err != nil {
		client.Close()
		return err
	}
	c.client, c.raw, c.closing = client, raw, closing
	return nil
}

// identify is the session's first command: /system/resource/print, which
// every RouterOS router answers, to check that the peer is one and to log
// its version and board (as other RouterOS tools do first).
func (c *Conn) identify(client *ros.Client) error {
	rep, err := client.RunArgs([]string{"/system/resource/print", "=.proplist=version,board-name,architecture-name"})
	var de *ros.DeviceError
	switch {
	case errors.As(err, &de):
		return fmt.Errorf("router %s: /system/resource/print: %s (the user %s needs the read policy)", c.address, de.Sentence.Map["message"], c.user)
	case err != nil:
		return step.Retryable(fmt.Errorf("router %s: /system/resource/print: %w", c.address, err))
	case len(rep.Re) == 0 || rep.Re[0].Map["version"] == "":
		return fmt.Errorf("router %s: /system/resource/print shows no RouterOS version: is it a RouterOS router?", c.address)
	}
	r := rep.Re[0].Map
	c.logger.Info("connected to the router", "router", c.address, "version", r["version"], "board", r["board-name"], "architecture", r["architecture-name"])
	return nil
}

// Run sends one command and returns its reply. A trap is a *DeviceError
// carrying the router's words and the command (never retryable: a trap
// does not prove nothing changed, so the caller re-observes); a broken
// connection is retryable and the session is dropped.
func (c *Conn) Run(ctx context.Context, words ...string) (*ros.Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.client == nil {
		if err := c.dial(ctx); err != nil {
			return nil, err
		}
	}
	reply, err := c.client.RunArgs(words)
	if err == nil {
		return reply, nil
	}
	var de *ros.DeviceError
	if errors.As(err, &de) && de.Sentence.Word == "!trap" {
		return reply, &DeviceError{Command: redact(words), Message: de.Sentence.Map["message"]}
	}
	c.client.Close()
	c.client = nil
	return nil, step.Retryable(fmt.Errorf("router %s: %s: %w", c.address, words[0], err))
}

// RemoteAddr is the router address the current session reached, or the
// zero Addr when no session is open.
func (c *Conn) RemoteAddr() netip.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw == nil {
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(c.raw.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// Close ends the session the way RouterOS expects, with /quit, waiting at
// most half a second for the router's answer: !fatal and a bare reason
// word ("session terminated on request"), which go-routeros reports as an
// unparsable word; that answer, or none, is the expected end.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		return nil
	}
	c.closing.Store(true)
	if _, err := c.client.RunArgs([]string{"/quit"}); err != nil {
		c.logger.Debug("router session ended", "router", c.address, "answer", err.Error())
	}
	err := c.client.Close()
	c.client = nil
	return err
}

// DeviceError is a command the router refused, in the router's words.
type DeviceError struct {
	Command string
	Message string
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("router refused %s: %s", e.Command, e.Message)
}

// redact formats a command for messages without any password.
func redact(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if strings.HasPrefix(w, "=password=") {
			w = "=password=" + step.Redacted
		}
		out[i] = w
	}
	return strings.Join(out, " ")
}
