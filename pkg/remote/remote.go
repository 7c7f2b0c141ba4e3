// Package remote is homelab's provider for hosts reached over SSH: it runs
// commands and syncs files (SFTP) on Linux guests, behind the narrow Host
// interface that steps use.
//
// Host keys are always checked (a read-only known_hosts file, or homelab's
// own trust-on-first-use file); Insecure must be asked for and is logged. A
// Pool keeps one connection per host address, redials after it broke, and
// retries dialing with bounded backoff while a fresh guest boots.
//
// Errors follow one rule: a command that ran and exited non-zero is a result
// (Result plus *ExitError, carrying the command and the tail of its stderr,
// with secrets redacted); a transport failure (a broken connection) is
// marked step.Retryable so the engine may try the step again. A host that
// does not answer within the connect budget (ConnectAttempts dials within
// ConnectTimeout) is a *ConnectError, not retried again: the budget is
// the worst case of every step that waits on a host.
package remote

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Host is one machine reached over SSH.
type Host interface {
	// Run runs cmd through the remote shell (with sudo for non-root users).
	// A non-zero exit returns the Result and an *ExitError.
	Run(ctx context.Context, cmd Command) (Result, error)
	// Sync makes the remote file equal to f, atomically, and reports whether
	// it had to change anything.
	Sync(ctx context.Context, f File) (changed bool, err error)
	// Read returns a remote file's content; a missing file is an error that
	// matches os.ErrNotExist.
	Read(ctx context.Context, path string) ([]byte, error)
	// Close closes the host's connection; a pooled Host redials on next use.
	Close() error
}

// Command is a shell script to run on a host.
type Command struct {
	// Script is run by `sh -c` (wrapped in `sudo -n sh -c` for non-root users).
	Script string
	// Stdin is fed to the command when not nil; it must reach EOF (Run
	// returns only after it was read to the end or the command ended).
	Stdin io.Reader
	// Secrets are redacted (replaced by "***") from errors and logs.
	Secrets []string
	// Timeout bounds the command; zero means only ctx bounds it.
	Timeout time.Duration
	// Stdout and Stderr, when set, receive the output as it arrives (it is
	// also collected in the Result).
	Stdout, Stderr io.Writer
}

// Result is what a command that ran left behind.
type Result struct {
	// ExitStatus is the command's exit status, or -1 when it has none (the
	// command could not start, timed out or lost its connection).
	ExitStatus     int
	Stdout, Stderr []byte
}

// File is the desired content of a remote file.
type File struct {
	// Path is absolute.
	Path    string
	Content []byte
	// Mode is the permission bits; 0644 when zero.
	Mode os.FileMode
	// Owner and Group, when set, are applied with chown and compared by
	// name (as `stat -c '%U %G'` prints them); empty ones are left alone.
	Owner, Group string
}

// ExitError is a command that ran and exited non-zero.
type ExitError struct {
	// Host is the host's name.
	Host string
	// Command is the script, redacted and shortened for messages.
	Command string
	// Status is the exit status.
	Status int
	// Stderr is the tail of the command's stderr, redacted.
	Stderr string
}

// Error reads like: ssh lb-1: "haproxy -c -f /tmp/x": exit 1: [ALERT] ...
func (e *ExitError) Error() string {
	msg := fmt.Sprintf("ssh %s: %q: exit %d", e.Host, e.Command, e.Status)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// HostKeyPolicy says how host keys are verified. Exactly one of the fields
// should be set; KnownHostsFile and TOFUFile may be combined (the read-only
// file is consulted first).
type HostKeyPolicy struct {
	// KnownHostsFile is an OpenSSH known_hosts file, read only: an unknown
	// host or a changed key is refused.
	KnownHostsFile string
	// TOFUFile is homelab's own known_hosts file: the key of an unknown host
	// is appended and trusted (logged: "trusting host key ... on first
	// use"); a known host presenting another key is refused. Keys learned
	// through an authenticated channel are recorded there first (see
	// Pool.AddHostKey and Pool.ExpectHostKeys).
	TOFUFile string
	// Strict trusts nothing on first use: an unknown host is refused
	// unless its key, or its fingerprint, was recorded in TOFUFile
	// beforehand.
	Strict bool
	// Insecure accepts any host key (a warning is logged once per Pool).
	Insecure bool
}

// Config says how to reach one host.
type Config struct {
	// Name is used in messages (e.g. "lb-1"); Address when empty.
	Name string
	// Address is host:port (port 22 when omitted).
	Address string
	// User is the login user; "root" when empty. Commands of other users run
	// through `sudo -n`.
	User string
	// KeyFile is a private key (unencrypted) used for authentication.
	KeyFile string
	// Signers are used for authentication, in addition to KeyFile. When both
	// are empty the SSH agent at $SSH_AUTH_SOCK is used.
	Signers []ssh.Signer
	// Jump, when set, is a host through which Address is reached.
	Jump *Config
	// HostKeys is the host key policy.
	HostKeys HostKeyPolicy
}

func (c *Config) name() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Address
}

func (c *Config) user() string {
	if c.User == "" {
		return "root"
	}
	return c.User
}

// sudo reports whether commands must be wrapped in sudo.
func (c *Config) sudo() bool { return c.user() != "root" }

// Options configure a Pool.
type Options struct {
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// ConnectTimeout bounds connecting to a host, every attempt and the
	// waits between them included; default 45s. It is the worst case of
	// an operation on a host that does not answer: it then fails with a
	// *ConnectError, which the engine does not retry again.
	ConnectTimeout time.Duration
	// ConnectAttempts bounds the dial attempts of one connect; default 3.
	ConnectAttempts int
	// DialTimeout bounds one dial attempt (TCP and handshake); default 10s.
	DialTimeout time.Duration
	// Backoff is the first delay between dial attempts, doubled up to 5s
	// with jitter; default 250ms.
	Backoff time.Duration
	// Dial makes the TCP connections to hosts (not those through a jump
	// host); nil means net.Dialer. Tests inject one.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Redact replaces every non-empty secret in s with "***", also where it
// appears shell-quoted (once, or twice as in a sudo-wrapped script), so a
// command echoed back in an error message does not leak it either.
func Redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		once := strings.ReplaceAll(sec, "'", `'\''`)
		twice := strings.ReplaceAll(once, "'", `'\''`)
		for _, v := range []string{twice, once, sec} {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return s
}

// shorten collapses whitespace and cuts s to at most n runes.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// tail returns the last n bytes of b (starting at a line when possible),
// trimmed.
func tail(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[len(s)-n:]
		if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
			s = s[i+1:]
		}
		s = "…" + s
	}
	return s
}
