// Command homelab rebuilds a homelab from one inventory file: Proxmox
// guests, the MikroTik router, HAProxy + keepalived and a kubeadm cluster.
// It parses flags, calls pkg/homelab and picks a view; it holds no logic.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/homelabctl/homelab/pkg/homelab"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var degraded *homelab.DegradedError
	switch {
	case errors.As(err, &degraded):
		fmt.Fprintln(stderr, "Degraded:", strings.TrimPrefix(degraded.Error(), "degraded: "))
	case err != nil && !errors.Is(err, errChanges):
		fmt.Fprintln(stderr, "Error:", err)
		if errors.As(err, new(*usageError)) {
			fmt.Fprintln(stderr, "Run 'homelab --help' for usage.")
		}
		var h *hintError
		if errors.As(err, &h) {
			fmt.Fprintln(stderr, h.hint)
		}
	}
	return exitCode(err)
}

// Exit codes, as Terraform's: 1 for every error, a bad command line
// included, and 2 only for plan --detailed-exitcode's "succeeded, with
// changes", so a typo in CI never reads as "changes". 3 is homelab's own:
// a run that built everything it could reach while Proxmox nodes were
// offline (degraded).
const (
	exitOK       = 0
	exitError    = 1
	exitChanges  = 2
	exitDegraded = 3
)

// errChanges is returned by plan --detailed-exitcode when the plan has
// changes; it is not printed.
var errChanges = errors.New("the plan has changes")

// usageError is a command line that does not make sense: it exits 1 as
// every error does, and is followed by a pointer to --help.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// hintError is an error followed, when printed, by a line that says what
// to do instead.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// exitCode maps an error to the process exit code; it is the only place
// that does.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errChanges):
		return exitChanges
	case errors.As(err, new(*homelab.DegradedError)):
		return exitDegraded
	default:
		return exitError
	}
}
