package remote_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/sim/sshd"
	"github.com/homelabctl/homelab/pkg/step"
)

// shell runs commands with the machine's sh, as a host's sshd would.
func shell(ctx context.Context, s sshd.Session) int {
	cmd := exec.CommandContext(ctx, "sh", "-c", s.Command)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, s.Stderr
	var exit *exec.ExitError
	if err := cmd.Run(); errors.As(err, &exit) {
		return exit.ExitCode()
	} else if err != nil {
		return 127
	}
	return 0
}

// In an observation pass a host's declared reads cost one command, each
// step gets its own answer (output without a trailing newline, a missing
// file, a file that is there); an undeclared command runs once however
// often it is asked; a declared read that fails runs again on its own
// and carries its own stderr; outside a pass every read is a command.
func TestFactsGatheredInOneCommand(t *testing.T) {
	l := newLab(t, shell)
	dir := t.TempDir()
	there := filepath.Join(dir, "there")
	if err := os.WriteFile(there, []byte("line\n@@ not a boundary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	reads := []step.HostRead{
		{Host: "lb-1", Script: "printf 'no newline'"},
		{Host: "lb-1", Script: "echo two; echo lines"},
		{Host: "lb-1", Script: "echo broken >&2; exit 3"},
		{Host: "lb-1", Path: there},
		{Host: "lb-1", Path: missing},
		{Host: "lb-2", Script: "echo elsewhere"},
	}
	ctx := step.WithPass(context.Background())
	step.Declare(ctx, reads)
	for _, c := range []struct{ script, want string }{{"printf 'no newline'", "no newline"}, {"echo two; echo lines", "two\nlines\n"}} {
		res, err := h.Run(ctx, remote.Command{Script: c.script})
		if err != nil || string(res.Stdout) != c.want {
			t.Errorf("%q: %q %v", c.script, res.Stdout, err)
		}
	}
	if b, err := h.Read(ctx, there); err != nil || string(b) != "line\n@@ not a boundary\n" {
		t.Errorf("read: %q %v", b, err)
	}
	if _, err := h.Read(ctx, missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read a missing file: %v", err)
	}
	if n := len(l.srv.Log()); n != 1 {
		t.Fatalf("%d commands for the declared reads, want 1:\n%s", n, strings.Join(l.srv.Log(), "\n"))
	}
	_, err := h.Run(ctx, remote.Command{Script: "echo broken >&2; exit 3"})
	var exit *remote.ExitError
	if !errors.As(err, &exit) || exit.Status != 3 || !strings.Contains(exit.Stderr, "broken") {
		t.Errorf("a failing declared read: %v", err)
	}
	for range 3 {
		if res, err := h.Run(ctx, remote.Command{Script: "echo undeclared"}); err != nil || string(res.Stdout) != "undeclared\n" {
			t.Errorf("undeclared: %q %v", res.Stdout, err)
		}
	}
	if n := len(l.srv.Log()); n != 3 {
		t.Errorf("%d commands, want 3 (the facts, the failing read again, the undeclared one once):\n%s", n, strings.Join(l.srv.Log(), "\n"))
	}
	for range 2 {
		run(t, h, "echo two; echo lines")
	}
	if n := len(l.srv.Log()); n != 5 {
		t.Errorf("outside a pass: %d commands, want 5", n)
	}
}
