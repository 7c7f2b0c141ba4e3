package remote_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/sim/sshd"
	"github.com/homelabctl/homelab/pkg/step"
)

func TestBrokenConnectionIsRetryableAndRedials(t *testing.T) {
	l := newLab(t, nil)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	run(t, h, "true")
	l.srv.DropNextExec()
	res, err := h.Run(context.Background(), remote.Command{Script: "echo lost"})
	var exit *remote.ExitError
	if err == nil || errors.As(err, &exit) {
		t.Fatalf("err = %v, want a transport error", err)
	}
	if !step.IsRetryable(err) {
		t.Fatalf("a broken connection must be retryable: %v", err)
	}
	if !strings.Contains(err.Error(), "lb-1") || !strings.Contains(err.Error(), "echo lost") {
		t.Fatalf("error does not name the host and command: %v", err)
	}
	if res.ExitStatus == 0 {
		t.Fatalf("result = %+v", res)
	}
	// The pooled host redials on the next use.
	if res := run(t, h, "echo back"); string(res.Stdout) != "back\n" {
		t.Fatalf("stdout = %q", res.Stdout)
	}
	if n := l.srv.Connections(); n != 2 {
		t.Fatalf("connections = %d, want 2", n)
	}
}

func TestSecretsNeverInLogs(t *testing.T) {
	const secret = "t0ken-abc.0123456789abcdef"
	fails := func(ctx context.Context, s sshd.Session) int {
		fmt.Fprintf(s.Stderr, "bad token in %s\n", s.Command)
		return 1
	}
	l := newLab(t, fails)
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := l.config(t)
	cfg.User = "deploy" // the sudo wrapper quotes the script: still redacted
	h := host(t, newPool(t, remote.Options{Logger: log}), cfg)
	_, err := h.Run(context.Background(), remote.Command{
		Script:  "kubeadm join k8s-api:6443 --token " + remote.Quote(secret),
		Secrets: []string{secret},
	})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(logs.String(), "kubeadm join") {
		t.Fatalf("the command was not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatalf("the secret is in the log:\n%s", logs.String())
	}
}
