package loadbalancer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// Paths of the validators in Debian's packages. Absolute, because a
// non-root SSH session's PATH has no /usr/sbin.
const (
	HAProxyBinary    = "/usr/sbin/haproxy"
	KeepalivedBinary = "/usr/sbin/keepalived"
)

// Result is how a command ended: its exit code, as a shell reports it
// (128+N when a signal N killed it), and its stdout and stderr together.
type Result struct {
	ExitCode int
	Output   []byte
}

// Runner runs a command, locally or on a host, and returns how it ended. A
// non-zero exit is a Result, not an error; the error is for a command that
// could not be run at all (binary missing, connection lost).
type Runner func(ctx context.Context, argv []string) (Result, error)

// RunLocal is the Runner for this machine.
func RunLocal(ctx context.Context, argv []string) (Result, error) {
	if len(argv) == 0 {
		return Result{}, errors.New("run: no command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return Result{ExitCode: 0, Output: out}, nil
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return Result{Output: out}, fmt.Errorf("run %s: %w", argv[0], err)
	}
	if ctx.Err() != nil {
		return Result{Output: out}, fmt.Errorf("run %s: %w", argv[0], ctx.Err())
	}
	code := exit.ExitCode()
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	return Result{ExitCode: code, Output: out}, nil
}

// CheckError is a configuration a validator rejected, with the validator's
// own words.
type CheckError struct {
	// Tool is "haproxy" or "keepalived".
	Tool string
	// Path is the file checked.
	Path string
	// ExitCode is the validator's exit code.
	ExitCode int
	// Lines are the validator's error lines (all its output when it gave
	// no recognisable error line).
	Lines []string
}

func (e *CheckError) Error() string {
	msg := fmt.Sprintf("%s rejected %s (exit %d)", e.Tool, e.Path, e.ExitCode)
	if len(e.Lines) > 0 {
		msg += ": " + strings.Join(e.Lines, "; ")
	}
	return msg
}

// HAProxyCheckCommand is the command that checks an HAProxy config without
// binding anything: haproxy -c -f PATH.
func HAProxyCheckCommand(path string) []string {
	return []string{HAProxyBinary, "-c", "-f", path}
}

// haproxyPID matches the process ID HAProxy puts into its messages.
var haproxyPID = regexp.MustCompile(`^\[(ALERT|WARNING|NOTICE)\]\s+\(\d+\)\s+:\s*`)

// ParseHAProxyCheck judges the Result of HAProxyCheckCommand on path. A
// valid config gives a nil error and HAProxy's warnings; an invalid one a
// *CheckError with its alerts, such as "[ALERT] config : parsing
// [haproxy.cfg:5] : unknown keyword 'servr' in 'backend' section".
func ParseHAProxyCheck(path string, r Result) (warnings []string, err error) {
	var alerts, other []string
	for _, line := range outputLines(r.Output) {
		m := haproxyPID.FindStringSubmatch(line)
		if m == nil {
			if line != "Configuration file is valid" && line != "Warnings were found." {
				other = append(other, line)
			}
			continue
		}
		msg := "[" + m[1] + "] " + line[len(m[0]):]
		switch m[1] {
		case "ALERT":
			alerts = append(alerts, msg)
		case "WARNING":
			warnings = append(warnings, msg)
		}
	}
	if r.ExitCode == 0 {
		return warnings, nil
	}
	if len(alerts) == 0 {
		alerts = append(other, warnings...)
	}
	return warnings, &CheckError{Tool: "haproxy", Path: path, ExitCode: r.ExitCode, Lines: alerts}
}

// CheckHAProxy runs HAProxyCheckCommand on path through run and judges it.
func CheckHAProxy(ctx context.Context, run Runner, path string) (warnings []string, err error) {
	r, err := run(ctx, HAProxyCheckCommand(path))
	if err != nil {
		return nil, fmt.Errorf("check %s with haproxy -c: %w", path, err)
	}
	return ParseHAProxyCheck(path, r)
}

// KeepalivedCheckCommand is the command that checks a keepalived config:
// keepalived --config-test -f PATH.
func KeepalivedCheckCommand(path string) []string {
	return []string{KeepalivedBinary, "--config-test", "-f", path}
}

// exitTerminated is the exit code of a process killed by SIGTERM.
const exitTerminated = 128 + 15

// ParseKeepalivedCheck judges the Result of KeepalivedCheckCommand on path.
// Exit 0 is valid (its lines come back as warnings). keepalived 2.2.7 ends
// the check of any config with a script by killing itself (exit 143),
// whatever the config: that counts as valid only when it printed nothing,
// which is why CheckKeepalived also checks a copy without scripts. Any
// other exit is a *CheckError with keepalived's lines, such as "(VI_api)
// VRID '300' not valid - must be between 1 & 255".
func ParseKeepalivedCheck(path string, r Result) (warnings []string, err error) {
	var lines []string
	for _, line := range outputLines(r.Output) {
		if line != "Terminated" {
			lines = append(lines, line)
		}
	}
	switch {
	case r.ExitCode == 0:
		return lines, nil
	case r.ExitCode == exitTerminated && len(lines) == 0:
		return nil, nil
	default:
		return nil, &CheckError{Tool: "keepalived", Path: path, ExitCode: r.ExitCode, Lines: lines}
	}
}

// CheckKeepalived checks the keepalived config at path, and the copy at
// strippedPath, which must hold StripScripts of it: the first for what
// keepalived 2.2.7 reports before it kills itself, the second for a real
// exit code, which must be 0.
func CheckKeepalived(ctx context.Context, run Runner, path, strippedPath string) (warnings []string, err error) {
	r, err := run(ctx, KeepalivedCheckCommand(path))
	if err != nil {
		return nil, fmt.Errorf("check %s with keepalived --config-test: %w", path, err)
	}
	warnings, err = ParseKeepalivedCheck(path, r)
	if err != nil {
		return warnings, err
	}
	r, err = run(ctx, KeepalivedCheckCommand(strippedPath))
	if err != nil {
		return warnings, fmt.Errorf("check %s with keepalived --config-test: %w", strippedPath, err)
	}
	more, err := ParseKeepalivedCheck(strippedPath, r)
	if err == nil && r.ExitCode != 0 {
		err = &CheckError{Tool: "keepalived", Path: strippedPath, ExitCode: r.ExitCode, Lines: []string{"the copy without scripts must pass with exit 0"}}
	}
	for _, w := range more {
		if !slices.Contains(warnings, w) {
			warnings = append(warnings, w)
		}
	}
	return warnings, err
}

// outputLines returns the non-empty lines of out, trimmed.
func outputLines(out []byte) []string {
	var lines []string
	for _, l := range bytes.Split(out, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" {
			lines = append(lines, s)
		}
	}
	return lines
}
