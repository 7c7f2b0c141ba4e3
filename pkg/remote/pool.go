package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/step"
)

// Pool hands out Hosts, keeping one SSH connection per host (user, address
// and jump host). It is safe for concurrent use.
type Pool struct {
	log             *slog.Logger
	connectTimeout  time.Duration
	connectAttempts int
	dialTimeout     time.Duration
	backoff         time.Duration
	dialer          func(ctx context.Context, network, address string) (net.Conn, error)

	tofuMu   sync.Mutex // serializes reads and appends of TOFU files
	warnOnce sync.Once  // the insecure-mode warning

	// parsedMu guards parsed: the known_hosts files read so far, each
	// kept while it is unchanged (see knownHosts).
	parsedMu sync.Mutex
	parsed   map[string]parsedKnownHosts

	mu     sync.Mutex
	hosts  map[string]*host
	closed bool
}

// NewPool returns an empty pool.
func NewPool(opts Options) *Pool {
	p := &Pool{
		log:             opts.Logger,
		connectTimeout:  opts.ConnectTimeout,
		connectAttempts: opts.ConnectAttempts,
		dialTimeout:     opts.DialTimeout,
		backoff:         opts.Backoff,
		dialer:          opts.Dial,
		hosts:           map[string]*host{},
	}
	if p.connectAttempts <= 0 {
		p.connectAttempts = defaultConnectAttempts
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.connectTimeout <= 0 {
		p.connectTimeout = defaultConnectTimeout
	}
	if p.dialTimeout <= 0 {
		p.dialTimeout = defaultDialTimeout
	}
	if p.backoff <= 0 {
		p.backoff = defaultBackoff
	}
	return p
}

// Host returns the pooled Host for cfg. It checks cfg but does not connect:
// the connection is made (with retries) by the first operation, and made
// again after it broke.
func (p *Pool) Host(cfg Config) (Host, error) {
	for c := &cfg; c != nil; c = c.Jump {
		if c.Address == "" {
			return nil, fmt.Errorf("ssh %s: no address", c.name())
		}
		h := c.HostKeys
		if !h.Insecure && h.KnownHostsFile == "" && h.TOFUFile == "" {
			return nil, fmt.Errorf("ssh %s: no host key policy: set KnownHostsFile, TOFUFile or Insecure", c.name())
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("ssh %s: pool is closed", cfg.name())
	}
	return p.hostLocked(&cfg), nil
}

// hostFor returns the pooled host for cfg (used for jump hosts).
func (p *Pool) hostFor(cfg *Config) *host {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hostLocked(cfg)
}

func (p *Pool) hostLocked(cfg *Config) *host {
	k := key(cfg)
	h, ok := p.hosts[k]
	if !ok {
		h = &host{pool: p, cfg: *cfg}
		p.hosts[k] = h
	}
	return h
}

func key(cfg *Config) string {
	k := cfg.user() + "@" + hostKeyAddress(cfg.Address)
	if cfg.Jump != nil {
		k += " via " + key(cfg.Jump)
	}
	return k
}

// Close closes every connection; the pool cannot be used afterwards.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	hosts := p.hosts
	p.hosts = map[string]*host{}
	p.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}

// host is a pooled Host: a lazily (re)dialed connection.
type host struct {
	pool *Pool
	cfg  Config

	mu     sync.Mutex
	client *ssh.Client
	dead   chan struct{} // closed when client's connection ends
}

// conn returns the live connection, dialing when there is none or it broke.
func (h *host) conn(ctx context.Context) (*ssh.Client, error) {
	h.pool.mu.Lock()
	closed := h.pool.closed
	h.pool.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("ssh %s: pool is closed", h.cfg.name())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client != nil {
		select {
		case <-h.dead:
			h.client.Close()
			h.client = nil
		default:
			return h.client, nil
		}
	}
	c, err := h.pool.dial(ctx, &h.cfg, nil)
	if err != nil {
		return nil, err
	}
	dead := make(chan struct{})
	go func() {
		c.Wait()
		close(dead)
	}()
	h.client, h.dead = c, dead
	return c, nil
}

// drop forgets c (when it is still the current connection) and closes it.
func (h *host) drop(c *ssh.Client) {
	h.mu.Lock()
	if h.client == c {
		h.client = nil
	}
	h.mu.Unlock()
	c.Close()
}

// aliveTimeout bounds the keepalive round trip of alive.
const aliveTimeout = 10 * time.Second

// alive reports whether c still answers (a keepalive round trip).
func alive(c *ssh.Client) bool {
	answered := make(chan bool, 1)
	go func() {
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		answered <- err == nil
	}()
	t := time.NewTimer(aliveTimeout)
	defer t.Stop()
	select {
	case ok := <-answered:
		return ok
	case <-t.C:
		return false
	}
}

// transport classifies err from an operation on c: when the connection is
// gone it is dropped (the next use redials) and err is marked retryable.
func (h *host) transport(c *ssh.Client, err error) error {
	if err == nil {
		return nil
	}
	if !alive(c) {
		h.drop(c)
		return step.Retryable(err)
	}
	return err
}

// session opens a session, redialing once when the pooled connection turns
// out to be broken.
func (h *host) session(ctx context.Context) (*ssh.Client, *ssh.Session, error) {
	for i := 0; ; i++ {
		c, err := h.conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		s, err := c.NewSession()
		if err == nil {
			return c, s, nil
		}
		h.drop(c)
		if i == 1 {
			return nil, nil, step.Retryable(fmt.Errorf("ssh %s: open session: %w", h.cfg.name(), err))
		}
	}
}

// sftp opens an SFTP session on the connection, closed when ctx ends or
// the returned function is called.
func (h *host) sftp(ctx context.Context) (*ssh.Client, *sftp.Client, func(), error) {
	for i := 0; ; i++ {
		c, err := h.conn(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		sc, err := sftp.NewClient(c)
		if err == nil {
			stop := context.AfterFunc(ctx, func() { sc.Close() })
			return c, sc, func() { stop(); sc.Close() }, nil
		}
		if alive(c) {
			return nil, nil, nil, fmt.Errorf("ssh %s: sftp: %w", h.cfg.name(), err)
		}
		h.drop(c)
		if i == 1 {
			return nil, nil, nil, step.Retryable(fmt.Errorf("ssh %s: sftp: %w", h.cfg.name(), err))
		}
	}
}

// Close closes the connection; the next operation redials.
func (h *host) Close() error {
	h.mu.Lock()
	c := h.client
	h.client = nil
	h.mu.Unlock()
	if c == nil {
		return nil
	}
	if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("ssh %s: close: %w", h.cfg.name(), err)
	}
	return nil
}
