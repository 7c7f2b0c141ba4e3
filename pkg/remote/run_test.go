package remote_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/sim/sshd"
	"github.com/homelabctl/homelab/pkg/step"
)

func TestRunCommand(t *testing.T) {
	l := newLab(t, nil)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	res := run(t, h, "echo hello world")
	if res.ExitStatus != 0 || string(res.Stdout) != "hello world\n" {
		t.Fatalf("result = %+v", res)
	}
	var streamed strings.Builder
	res, err := h.Run(context.Background(), remote.Command{Script: "cat", Stdin: strings.NewReader("from stdin"), Stdout: &streamed})
	if err != nil || string(res.Stdout) != "from stdin" || streamed.String() != "from stdin" {
		t.Fatalf("cat: %+v, streamed %q, %v", res, streamed.String(), err)
	}
	if got := l.srv.Log(); len(got) != 2 || got[0] != "echo hello world" {
		t.Fatalf("log = %q", got)
	}
}

func haproxyCheck(ctx context.Context, s sshd.Session) int {
	if strings.HasPrefix(s.Command, "haproxy -c") {
		fmt.Fprintln(s.Stdout, "checking")
		fmt.Fprintln(s.Stderr, "[ALERT] (1) : config : parsing [/tmp/x:3] : unknown keyword 'frontnd'")
		return 1
	}
	return sshd.Builtin(nil)(ctx, s)
}

func TestNonZeroExitIsAResult(t *testing.T) {
	l := newLab(t, haproxyCheck)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	res, err := h.Run(context.Background(), remote.Command{Script: "haproxy -c -f /tmp/x"})
	var exit *remote.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("err = %v, want *ExitError", err)
	}
	if res.ExitStatus != 1 || string(res.Stdout) != "checking\n" || !strings.Contains(string(res.Stderr), "[ALERT]") {
		t.Fatalf("result = %+v", res)
	}
	want := `ssh lb-1: "haproxy -c -f /tmp/x": exit 1: [ALERT] (1) : config : parsing [/tmp/x:3] : unknown keyword 'frontnd'`
	if err.Error() != want {
		t.Fatalf("error =\n%s\nwant\n%s", err, want)
	}
	if step.IsRetryable(err) {
		t.Fatal("a non-zero exit must not be retryable")
	}
	// The connection is still fine.
	run(t, h, "true")
	if n := l.srv.Connections(); n != 1 {
		t.Fatalf("connections = %d, want 1", n)
	}
}

func blockUntilCancelled(ctx context.Context, s sshd.Session) int {
	if s.Command == "sleep 600" {
		<-ctx.Done()
		return 137
	}
	return sshd.Builtin(nil)(ctx, s)
}

func TestCommandTimeout(t *testing.T) {
	l := newLab(t, blockUntilCancelled)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	_, err := h.Run(context.Background(), remote.Command{Script: "sleep 600", Timeout: 50 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `"sleep 600": timed out after 50ms`) {
		t.Fatalf("err = %v", err)
	}
	// A cancelled context ends the command too.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := h.Run(ctx, remote.Command{Script: "sleep 600"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	run(t, h, "true")
}

func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	echoBack := func(ctx context.Context, s sshd.Session) int {
		if s.Command == "sleep 600 "+secret {
			<-ctx.Done()
			return 1
		}
		fmt.Fprintf(s.Stderr, "login failed for command %s\n", s.Command)
		return 3
	}
	l := newLab(t, echoBack)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	res, err := h.Run(context.Background(), remote.Command{Script: "kubeadm join --token " + secret, Secrets: []string{secret}})
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "***") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(string(res.Stderr), secret) {
		t.Fatal("the Result keeps the raw output for the caller")
	}
	_, err = h.Run(context.Background(), remote.Command{Script: "sleep 600 " + secret, Secrets: []string{secret}, Timeout: 20 * time.Millisecond})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("timeout err = %v", err)
	}
	// A dial failure names the command redacted too.
	l.srv.Close()
	h2 := host(t, newPool(t, remote.Options{ConnectTimeout: 50 * time.Millisecond}), l.config(t))
	_, err = h2.Run(context.Background(), remote.Command{Script: "echo " + secret, Secrets: []string{secret}})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("dial err = %v", err)
	}
}

func TestSudoWrapping(t *testing.T) {
	l := newLab(t, nil)
	cfg := l.config(t)
	cfg.User = "deploy"
	h := host(t, newPool(t, remote.Options{}), cfg)
	res := run(t, h, `echo "it's me"`)
	if string(res.Stdout) != "it's me\n" {
		t.Fatalf("stdout = %q", res.Stdout)
	}
	want := `sudo -n sh -c 'echo "it'\''s me"'`
	if got := l.srv.Log(); len(got) != 1 || got[0] != want {
		t.Fatalf("log = %q, want %q", got, want)
	}
}

func TestConnectionReuse(t *testing.T) {
	l := newLab(t, nil)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	for i := 0; i < 10; i++ {
		run(t, h, "true")
	}
	if _, err := h.Sync(context.Background(), remote.File{Path: "/etc/x", Content: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Read(context.Background(), "/etc/x"); err != nil {
		t.Fatal(err)
	}
	if n := l.srv.Connections(); n != 1 {
		t.Fatalf("connections = %d, want 1", n)
	}
	// Close, then the pooled host redials on next use.
	h.Close()
	run(t, h, "true")
	if n := l.srv.Connections(); n != 2 {
		t.Fatalf("connections after Close = %d, want 2", n)
	}
}

func TestConcurrentRun(t *testing.T) {
	l := newLab(t, nil)
	p := newPool(t, remote.Options{})
	cfg := l.config(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			h, err := p.Host(cfg) // the same pooled host
			if err != nil {
				errs <- err
				return
			}
			for i := range 5 {
				want := fmt.Sprintf("g%d-%d", g, i)
				var out strings.Builder
				res, err := h.Run(context.Background(), remote.Command{Script: "echo " + want, Stdout: &out})
				if err != nil || string(res.Stdout) != want+"\n" || out.String() != want+"\n" {
					errs <- fmt.Errorf("%s: %q %v", want, res.Stdout, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := l.srv.Connections(); n != 1 {
		t.Fatalf("connections = %d, want 1", n)
	}
}

func TestJumpHost(t *testing.T) {
	jump := newLab(t, nil)
	target := newLab(t, nil)
	jcfg := jump.config(t)
	jcfg.Name = "bastion"
	cfg := target.config(t)
	cfg.Jump = &jcfg
	p := newPool(t, remote.Options{})
	h := host(t, p, cfg)
	for range 3 {
		if res := run(t, h, "echo via jump"); string(res.Stdout) != "via jump\n" {
			t.Fatalf("stdout = %q", res.Stdout)
		}
	}
	if len(jump.srv.Log()) != 0 || len(target.srv.Log()) != 3 {
		t.Fatalf("jump log %q, target log %q", jump.srv.Log(), target.srv.Log())
	}
	if jump.srv.Connections() != 1 || target.srv.Connections() != 1 {
		t.Fatalf("connections: jump %d, target %d", jump.srv.Connections(), target.srv.Connections())
	}
}

func TestStreamingStderr(t *testing.T) {
	l := newLab(t, haproxyCheck)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	pr, pw := io.Pipe()
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(pr)
		done <- string(b)
	}()
	h.Run(context.Background(), remote.Command{Script: "haproxy -c -f /x", Stderr: pw})
	pw.Close()
	if got := <-done; !strings.Contains(got, "[ALERT]") {
		t.Fatalf("streamed stderr = %q", got)
	}
}

// countingWriter counts the writes it gets, safely.
type countingWriter struct {
	mu sync.Mutex
	n  int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return len(p), nil
}

func (c *countingWriter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// A command cancelled while its output streams: once Run returned, the
// caller's writer gets nothing more (it may already be gone, as the
// engine's step output is).
func TestRunWritesNothingAfterReturning(t *testing.T) {
	chatty := func(ctx context.Context, s sshd.Session) int {
		for ctx.Err() == nil {
			fmt.Fprintln(s.Stdout, "still running")
			time.Sleep(time.Millisecond)
		}
		return 1
	}
	l := newLab(t, chatty)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	ctx, cancel := context.WithCancel(context.Background())
	var out countingWriter
	go func() {
		for out.count() < 5 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := h.Run(ctx, remote.Command{Script: "chatter", Stdout: &out}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	at := out.count()
	time.Sleep(50 * time.Millisecond)
	if got := out.count(); got != at {
		t.Fatalf("%d writes after Run returned", got-at)
	}
}
