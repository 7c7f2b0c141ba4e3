package remote_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/sim/sshd"
	"github.com/homelabctl/homelab/pkg/step"
)

func TestTOFURecordsThenRefusesChangedKey(t *testing.T) {
	l := newLab(t, nil)
	cfg := l.config(t)
	file := cfg.HostKeys.TOFUFile
	h := host(t, newPool(t, remote.Options{}), cfg)
	run(t, h, "true")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := knownhosts.Line([]string{l.srv.Addr()}, l.srv.HostKey()); strings.TrimSpace(string(b)) != want {
		t.Fatalf("TOFU file = %q, want %q", b, want)
	}
	// Known now: a second pool trusts it without appending.
	run(t, host(t, newPool(t, remote.Options{}), cfg), "true")
	if b2, _ := os.ReadFile(file); string(b2) != string(b) {
		t.Fatalf("TOFU file changed: %q", b2)
	}

	old := l.srv.HostKey()
	if err := l.srv.RotateHostKey(); err != nil {
		t.Fatal(err)
	}
	before := l.srv.Connections()
	_, err = host(t, newPool(t, remote.Options{}), cfg).Run(context.Background(), remote.Command{Script: "true"})
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || !hk.Changed {
		t.Fatalf("err = %v, want a changed host key", err)
	}
	msg := err.Error()
	for _, want := range []string{"lb-1", "host key changed", "presented " + ssh.FingerprintSHA256(l.srv.HostKey()),
		"expects " + ssh.FingerprintSHA256(old) + " (" + file + ":1)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if step.IsRetryable(err) {
		t.Error("a host key mismatch must not be retryable")
	}
	if n := l.srv.Connections() - before; n != 1 {
		t.Errorf("dialed %d times, want 1 (no retries)", n)
	}
}

func TestKnownHostsFile(t *testing.T) {
	l := newLab(t, nil)
	dir := t.TempDir()
	write := func(name string, key ssh.PublicKey) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(knownhosts.Line([]string{l.srv.Addr()}, key)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", l.srv.HostKey())
	bad := write("bad", newKey(t).PublicKey())
	other := filepath.Join(dir, "other")
	os.WriteFile(other, []byte(knownhosts.Line([]string{"10.9.9.9:22"}, l.srv.HostKey())+"\n"), 0o600)

	cfg := l.config(t)
	cfg.HostKeys = remote.HostKeyPolicy{KnownHostsFile: good}
	run(t, host(t, newPool(t, remote.Options{}), cfg), "true")

	cfg.HostKeys = remote.HostKeyPolicy{KnownHostsFile: bad}
	_, err := host(t, newPool(t, remote.Options{}), cfg).Run(context.Background(), remote.Command{Script: "true"})
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || !hk.Changed || !strings.Contains(err.Error(), "host key changed") || !strings.Contains(err.Error(), bad+":1") {
		t.Fatalf("mismatch: err = %v", err)
	}
	if len(hk.Expected) != 1 || hk.Expected[0].Line != 1 || hk.Expected[0].Fingerprint == hk.Fingerprint {
		t.Fatalf("expected keys = %+v", hk.Expected)
	}

	cfg.HostKeys = remote.HostKeyPolicy{KnownHostsFile: other}
	_, err = host(t, newPool(t, remote.Options{}), cfg).Run(context.Background(), remote.Command{Script: "true"})
	if !errors.As(err, &hk) || hk.Changed || !strings.Contains(err.Error(), "host key unknown") {
		t.Fatalf("unknown: err = %v", err)
	}
	if b, _ := os.ReadFile(other); strings.Count(string(b), "\n") != 1 {
		t.Fatal("a known_hosts file is read only")
	}
}

func TestInsecureWarnsOnce(t *testing.T) {
	l := newLab(t, nil)
	var logs logBuffer
	p := newPool(t, remote.Options{Logger: logs.logger()})
	cfg := l.config(t)
	cfg.HostKeys = remote.HostKeyPolicy{Insecure: true}
	run(t, host(t, p, cfg), "true")
	cfg.User = "other"
	run(t, host(t, p, cfg), "true")
	if n := strings.Count(logs.String(), "NOT verified"); n != 1 {
		t.Fatalf("warnings = %d, log:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

func TestNoHostKeyPolicyIsRefused(t *testing.T) {
	l := newLab(t, nil)
	cfg := l.config(t)
	cfg.HostKeys = remote.HostKeyPolicy{}
	if _, err := newPool(t, remote.Options{}).Host(cfg); err == nil || !strings.Contains(err.Error(), "no host key policy") {
		t.Fatalf("err = %v", err)
	}
}

func TestRetriesWhileBooting(t *testing.T) {
	l := newLab(t, nil)
	l.srv.RefuseNext(3)
	var logs logBuffer
	h := host(t, newPool(t, remote.Options{Logger: logs.logger(), ConnectAttempts: 5}), l.config(t))
	run(t, h, "true")
	if n := l.srv.Connections(); n != 1 {
		t.Fatalf("connections = %d", n)
	}
	if !strings.Contains(logs.String(), "attempts=4") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

func TestGivesUpAtDeadline(t *testing.T) {
	l := newLab(t, nil)
	l.srv.RefuseNext(1 << 30)
	h := host(t, newPool(t, remote.Options{ConnectTimeout: 200 * time.Millisecond, ConnectAttempts: 1 << 20}), l.config(t))
	_, err := h.Run(context.Background(), remote.Command{Script: "true"})
	if err == nil || !strings.Contains(err.Error(), "gave up connecting") || !strings.Contains(err.Error(), "connect budget 200ms") {
		t.Fatalf("err = %v", err)
	}
	// The budget is spent: the engine must not spend it again.
	var ce *remote.ConnectError
	if step.IsRetryable(err) || !errors.As(err, &ce) || !remote.NotAnswering(context.Background(), err) {
		t.Fatalf("a host that did not answer within the budget: %T %v", err, err)
	}
	// The context bounds it too.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	h2 := host(t, newPool(t, remote.Options{ConnectTimeout: time.Hour, ConnectAttempts: 1 << 20}), l.config(t))
	if _, err := h2.Run(ctx, remote.Command{Script: "true"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}

func TestAuthFailureIsNotRetried(t *testing.T) {
	l := newLab(t, nil)
	cfg := l.config(t)
	cfg.Signers = []ssh.Signer{newKey(t)}
	_, err := host(t, newPool(t, remote.Options{}), cfg).Run(context.Background(), remote.Command{Script: "true"})
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") || step.IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if n := l.srv.Connections(); n != 1 {
		t.Fatalf("dialed %d times, want 1", n)
	}
}

func TestKeyFileAndAgent(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sshd.New(sshd.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	cfg := remote.Config{Name: "k", Address: srv.Addr(), HostKeys: remote.HostKeyPolicy{TOFUFile: filepath.Join(dir, "known_hosts")}}

	// From a key file.
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.KeyFile = filepath.Join(dir, "id_ed25519")
	os.WriteFile(cfg.KeyFile, pem.EncodeToMemory(block), 0o600)
	run(t, host(t, newPool(t, remote.Options{}), cfg), "true")

	// A missing key file is a configuration error, not retried.
	cfg.KeyFile = filepath.Join(dir, "missing")
	_, err = host(t, newPool(t, remote.Options{}), cfg).Run(context.Background(), remote.Command{Script: "true"})
	if err == nil || !strings.Contains(err.Error(), "key") || step.IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}

	// From the agent when no key is given.
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("", "agent") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	cfg.KeyFile = ""
	run(t, host(t, newPool(t, remote.Options{}), cfg), "true")
}

// TestUnreachableHostAttemptBudget: a host whose address swallows
// connections (a blackhole: the dial hangs until its timeout) costs
// ConnectAttempts dials of DialTimeout each, then fails with what the
// last one saw.
func TestUnreachableHostAttemptBudget(t *testing.T) {
	var calls atomic.Int32
	blackhole := func(ctx context.Context, network, address string) (net.Conn, error) {
		calls.Add(1)
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	for _, attempts := range []int{1, 3} {
		calls.Store(0)
		p := newPool(t, remote.Options{Dial: blackhole, DialTimeout: 20 * time.Millisecond, ConnectAttempts: attempts,
			ConnectTimeout: time.Minute, Backoff: time.Millisecond})
		h := host(t, p, remote.Config{Name: "lb-1", Address: "192.0.2.1:22", Signers: []ssh.Signer{newKey(t)},
			HostKeys: remote.HostKeyPolicy{TOFUFile: filepath.Join(t.TempDir(), "known_hosts")}})
		_, err := h.Run(context.Background(), remote.Command{Script: "true"})
		var ce *remote.ConnectError
		if !errors.As(err, &ce) || ce.Attempts != attempts || int(calls.Load()) != attempts {
			t.Fatalf("attempts %d: %d dials, err %v", attempts, calls.Load(), err)
		}
		want := fmt.Sprintf("ssh lb-1: gave up connecting to 192.0.2.1:22 after %d attempts in ", attempts)
		if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "dial 192.0.2.1:22") || !strings.Contains(err.Error(), "deadline exceeded") {
			t.Errorf("err = %v", err)
		}
	}
}

// TestDefaultConnectBudget: the defaults bound a host that does not
// answer: at most 3 dials of 10s within 45s.
func TestDefaultConnectBudget(t *testing.T) {
	var calls atomic.Int32
	var timeouts []time.Duration
	var mu sync.Mutex
	fail := func(ctx context.Context, network, address string) (net.Conn, error) {
		calls.Add(1)
		d, _ := ctx.Deadline()
		mu.Lock()
		timeouts = append(timeouts, time.Until(d).Round(time.Second))
		mu.Unlock()
		return nil, errors.New("connection refused")
	}
	p := remote.NewPool(remote.Options{Dial: fail, Backoff: time.Millisecond})
	defer p.Close()
	h := host(t, p, remote.Config{Name: "lb-1", Address: "192.0.2.1:22", Signers: []ssh.Signer{newKey(t)},
		HostKeys: remote.HostKeyPolicy{TOFUFile: filepath.Join(t.TempDir(), "known_hosts")}})
	_, err := h.Run(context.Background(), remote.Command{Script: "true"})
	var ce *remote.ConnectError
	if !errors.As(err, &ce) || calls.Load() != 3 || ce.Budget != 45*time.Second {
		t.Fatalf("%d dials, err %v", calls.Load(), err)
	}
	for _, d := range timeouts {
		if d > 10*time.Second {
			t.Errorf("a dial was given %s, want at most 10s", d)
		}
	}
}
