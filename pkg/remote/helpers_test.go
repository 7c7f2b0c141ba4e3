package remote_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/sim/sshd"
)

func newKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lab is one simulated host and a client key it accepts.
type lab struct {
	srv *sshd.Server
	key ssh.Signer
}

func newLab(t *testing.T, h sshd.Handler) *lab {
	t.Helper()
	key := newKey(t)
	srv, err := sshd.New(sshd.Options{
		AuthorizedKeys: []ssh.PublicKey{key.PublicKey()},
		Root:           t.TempDir(),
		Handler:        h,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &lab{srv: srv, key: key}
}

// config is a root login with a fresh TOFU file.
func (l *lab) config(t *testing.T) remote.Config {
	return remote.Config{
		Name:     "lb-1",
		Address:  l.srv.Addr(),
		Signers:  []ssh.Signer{l.key},
		HostKeys: remote.HostKeyPolicy{TOFUFile: filepath.Join(t.TempDir(), "known_hosts")},
	}
}

func newPool(t *testing.T, opts remote.Options) *remote.Pool {
	t.Helper()
	if opts.Backoff == 0 {
		opts.Backoff = 5 * time.Millisecond
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 30 * time.Second
	}
	p := remote.NewPool(opts)
	t.Cleanup(func() { p.Close() })
	return p
}

func host(t *testing.T, p *remote.Pool, cfg remote.Config) remote.Host {
	t.Helper()
	h, err := p.Host(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func run(t *testing.T, h remote.Host, script string) remote.Result {
	t.Helper()
	res, err := h.Run(context.Background(), remote.Command{Script: script})
	if err != nil {
		t.Fatalf("run %q: %v", script, err)
	}
	return res
}

// logBuffer collects slog output safely.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
