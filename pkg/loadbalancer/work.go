package loadbalancer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/homelabctl/homelab/pkg/apt"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// HostDialer reaches a load balancer over SSH by its inventory name.
type HostDialer func(guest string) (remote.Host, error)

// hostRunner runs a validator's argv on a host and returns its exit code
// and output, so the same checks run locally in tests and remotely here.
func hostRunner(h remote.Host, secrets []string) Runner {
	return func(ctx context.Context, argv []string) (Result, error) {
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = remote.Quote(a)
		}
		res, err := h.Run(ctx, remote.Command{Script: strings.Join(quoted, " ") + " 2>&1", Secrets: secrets, Timeout: time.Minute})
		var exit *remote.ExitError
		if err != nil && !errors.As(err, &exit) {
			return Result{}, err
		}
		return Result{ExitCode: res.ExitStatus, Output: append(res.Stdout, res.Stderr...)}, nil
	}
}

// observeTimeout bounds how long observing a load balancer waits for it
// to answer SSH.
const observeTimeout = 20 * time.Second

// freshHost is what a step observes on a load balancer that does not
// answer yet: its intent, the change it would make on a fresh host. The
// engine observes the step again right before applying it, once its
// guest booted.
func freshHost(guest string, intent step.Change) step.Change {
	return intent.Unread(guest + " does not answer SSH yet: planned as a fresh host")
}

// packagesWork installs the packages and the keepalived script user where
// they are missing.
type packagesWork struct {
	hosts   HostDialer
	silence *remote.Silence                              // the load balancers that did not answer a moment ago
	running func(ctx context.Context, guest string) bool // nil: not known
	guest   string
	intent  step.Change
}

// packagesScript prints the packages' states and whether the script user
// exists.
const packagesScript = "dpkg-query -W -f '${Package} ${db:Status-Status}\\n' " + Packages + " 2>/dev/null; id -u " + ScriptUser + " >/dev/null 2>&1 && echo user-ok; true"

// HostReads declares the read Observe makes (see step.HostReader).
func (w packagesWork) HostReads() []step.HostRead {
	return []step.HostRead{{Host: w.guest, Script: packagesScript}}
}

// missing lists what is not there yet: packages, and the script user.
func (w packagesWork) missing(ctx context.Context) (remote.Host, []string, bool, error) {
	h, err := w.hosts(w.guest)
	if err != nil {
		return nil, nil, false, err
	}
	res, err := h.Run(ctx, remote.Command{Script: packagesScript})
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: look for packages: %w", w.guest, err)
	}
	installed := map[string]bool{}
	userOK := false
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[1] == "installed":
			installed[f[0]] = true
		case len(f) == 1 && f[0] == "user-ok":
			userOK = true
		}
	}
	var missing []string
	for _, p := range strings.Fields(Packages) {
		if !installed[p] {
			missing = append(missing, p)
		}
	}
	return h, missing, !userOK, nil
}

func (w packagesWork) Observe(ctx context.Context) (step.Change, error) {
	if w.silence.Quiet(w.guest) || w.running != nil && !w.running(ctx, w.guest) {
		return freshHost(w.guest, w.intent), nil
	}
	octx, cancel := context.WithTimeout(ctx, observeTimeout)
	defer cancel()
	_, missing, noUser, err := w.missing(octx)
	if err != nil && remote.NotAnswering(ctx, err) {
		w.silence.Mark(w.guest)
		return freshHost(w.guest, w.intent), nil
	}
	if err != nil {
		return step.Change{}, err
	}
	var fields []step.Field
	if len(missing) > 0 {
		fields = append(fields, step.Set("packages", strings.Join(missing, " ")))
	}
	if noUser {
		fields = append(fields, step.Set("script user", ScriptUser))
	}
	if len(fields) == 0 {
		return step.Change{Action: step.None}, nil
	}
	return step.Change{Action: step.Create, Fields: fields}, nil
}

func (w packagesWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	h, missing, noUser, err := w.missing(ctx)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		// A fresh cloud image: cloud-init may hold apt's locks and the
		// lists are empty (see pkg/apt). Worst case apt.Worst(5 min).
		script := apt.Install([]string{"--no-install-recommends"}, missing...)
		if _, err := h.Run(ctx, remote.Command{Script: script, Timeout: apt.Worst(5 * time.Minute)}); err != nil {
			return fmt.Errorf("%s: install %s: %w", w.guest, strings.Join(missing, " "), err)
		}
		fmt.Fprintf(out, "installed %s\n", strings.Join(missing, " "))
	}
	if noUser {
		if _, err := h.Run(ctx, remote.Command{Script: "id -u " + ScriptUser + " >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin " + ScriptUser}); err != nil {
			return fmt.Errorf("%s: add user %s: %w", w.guest, ScriptUser, err)
		}
		fmt.Fprintf(out, "added user %s\n", ScriptUser)
	}
	return nil
}

// file is one file a step keeps on a host.
type file struct {
	path string
	mode os.FileMode
	// content renders the file; shown renders it for plans (secrets
	// redacted). shown nil means content is shown as it is.
	content func() ([]byte, error)
	shown   func([]byte) []byte
}

// filesWork keeps files on a host: it checks them with a validator before
// installing them (a config that fails is never installed, and the error
// carries the validator's words), installs them atomically, then runs its
// service's after hook, told whether anything changed.
type filesWork struct {
	hosts   HostDialer
	silence *remote.Silence                              // the load balancers that did not answer a moment ago
	running func(ctx context.Context, guest string) bool // nil: not known
	guest   string
	files   []file
	secrets func() []string
	// validate checks the files uploaded to the temporary paths.
	validate func(ctx context.Context, run Runner, h remote.Host, tmp []string) error
	// after reloads or starts the service; changed says whether a file
	// changed. It also reports whether the service needs a start.
	after  func(ctx context.Context, h remote.Host, changed bool, out io.Writer) error
	active string // the systemd unit that must be active, if any
	// intent is the step's change on a fresh host.
	intent step.Change
}

// pendingDir holds a marker per files step whose files were installed but
// whose service has not taken them yet (reloaded, restarted, sysctl -p):
// a run stopped between the two leaves it, and the next run finds the
// files in sync but the marker there, and finishes the job.
const pendingDir = "/var/lib/homelab/pending"

// pending is the marker of w's files.
func (w filesWork) pending() string {
	return path.Join(pendingDir, strings.ReplaceAll(strings.TrimPrefix(w.files[0].path, "/"), "/", "_"))
}

// pendingScript prints "pending" when w's marker is on the host.
func (w filesWork) pendingScript() string {
	return "test -e " + remote.Quote(w.pending()) + " && echo pending || true"
}

// activeScript prints the state of a systemd unit.
func activeScript(unit string) string {
	return "systemctl is-active " + remote.Quote(unit) + " || true"
}

// HostReads declares the reads Observe makes (see step.HostReader).
func (w filesWork) HostReads() []step.HostRead {
	var reads []step.HostRead
	for _, f := range w.files {
		reads = append(reads, step.HostRead{Host: w.guest, Path: f.path})
	}
	if w.after != nil {
		reads = append(reads, step.HostRead{Host: w.guest, Script: w.pendingScript()})
	}
	if w.active != "" {
		reads = append(reads, step.HostRead{Host: w.guest, Script: activeScript(w.active)})
	}
	return reads
}

// pendingOn reports whether w's marker is on the host.
func (w filesWork) pendingOn(ctx context.Context, h remote.Host) (bool, error) {
	res, err := h.Run(ctx, remote.Command{Script: w.pendingScript()})
	if err != nil {
		return false, fmt.Errorf("%s: %w", w.guest, err)
	}
	return strings.TrimSpace(string(res.Stdout)) == "pending", nil
}

type fileState struct {
	want, have []byte
	missing    bool
}

func (w filesWork) read(ctx context.Context) (remote.Host, []fileState, error) {
	h, err := w.hosts(w.guest)
	if err != nil {
		return nil, nil, err
	}
	states := make([]fileState, len(w.files))
	for i, f := range w.files {
		want, err := f.content()
		if err != nil {
			return nil, nil, err
		}
		have, err := h.Read(ctx, f.path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			states[i] = fileState{want: want, missing: true}
		case err != nil:
			return nil, nil, fmt.Errorf("%s: read %s: %w", w.guest, f.path, err)
		default:
			states[i] = fileState{want: want, have: have}
		}
	}
	return h, states, nil
}

func (w filesWork) Observe(ctx context.Context) (step.Change, error) {
	if w.silence.Quiet(w.guest) || w.running != nil && !w.running(ctx, w.guest) {
		return freshHost(w.guest, w.intent), nil
	}
	octx, cancel := context.WithTimeout(ctx, observeTimeout)
	defer cancel()
	h, states, err := w.read(octx)
	if err != nil && remote.NotAnswering(ctx, err) {
		w.silence.Mark(w.guest)
		return freshHost(w.guest, w.intent), nil
	}
	if err != nil {
		return step.Change{}, err
	}
	var change step.Change
	action := step.None
	for i, st := range states {
		if !st.missing && bytes.Equal(st.have, st.want) {
			continue
		}
		f := w.files[i]
		show := func(b []byte) string {
			if f.shown != nil {
				return string(f.shown(b))
			}
			return string(b)
		}
		sf := step.File{Host: w.guest, Path: f.path, Mode: fmt.Sprintf("%04o", f.mode), Content: show(st.want)}
		if st.missing {
			action = max(action, step.Create)
		} else {
			action = step.Update
			sf.Diff = unifiedDiff(w.guest+":"+f.path, f.path, show(st.have), show(st.want))
			if sf.Diff == "" {
				change.Fields = append(change.Fields, step.SensitiveField("auth_pass"))
			}
		}
		change.Files = append(change.Files, sf)
	}
	if action == step.None && w.after != nil {
		pending, err := w.pendingOn(ctx, h)
		if err != nil {
			return step.Change{}, err
		}
		if pending {
			action = step.Update
			change.Fields = append(change.Fields, step.Field{Name: "taken up", Old: "not yet", New: "yes"})
			change.Reason = "an earlier run installed the files and stopped before the service took them up"
		}
	}
	if action == step.None && w.active != "" {
		if res, err := h.Run(ctx, remote.Command{Script: activeScript(w.active)}); err == nil {
			if state := strings.TrimSpace(string(res.Stdout)); state != "active" {
				action = step.Update
				change.Fields = append(change.Fields, step.Field{Name: w.active, Old: state, New: "active"})
			}
		}
	}
	change.Action = action
	return change, nil
}

func (w filesWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	h, states, err := w.read(ctx)
	if err != nil {
		return err
	}
	var secrets []string
	if w.secrets != nil {
		secrets = w.secrets()
	}
	differ := false
	for _, st := range states {
		differ = differ || st.missing || !bytes.Equal(st.have, st.want)
	}
	if differ && w.validate != nil {
		tmp := make([]string, len(w.files))
		for i, f := range w.files {
			tmp[i] = path.Join("/tmp", fmt.Sprintf("homelab-check-%d-%s", time.Now().UnixNano(), path.Base(f.path)))
			if _, err := h.Sync(ctx, remote.File{Path: tmp[i], Content: states[i].want, Mode: 0o600}); err != nil {
				return fmt.Errorf("%s: upload %s for checking: %w", w.guest, f.path, err)
			}
		}
		err := w.validate(ctx, hostRunner(h, secrets), h, tmp)
		quoted := make([]string, len(tmp))
		for i, t := range tmp {
			quoted[i] = remote.Quote(t)
		}
		h.Run(ctx, remote.Command{Script: "rm -f " + strings.Join(quoted, " ")})
		if err != nil {
			return fmt.Errorf("%s: not installed, the running configuration stays: %w", w.guest, err)
		}
	}
	pending := false
	if w.after != nil {
		if pending, err = w.pendingOn(ctx, h); err != nil {
			return err
		}
		if differ && !pending {
			marker := w.pending()
			if _, err := h.Run(ctx, remote.Command{Script: "mkdir -p " + pendingDir + " && touch " + remote.Quote(marker)}); err != nil {
				return fmt.Errorf("%s: %w", w.guest, err)
			}
		}
	}
	changed := false
	for i, f := range w.files {
		c, err := h.Sync(ctx, remote.File{Path: f.path, Content: states[i].want, Mode: f.mode})
		if err != nil {
			return fmt.Errorf("%s: install %s: %w", w.guest, f.path, err)
		}
		if c {
			fmt.Fprintf(out, "installed %s\n", f.path)
		}
		changed = changed || c
	}
	if w.after == nil {
		return nil
	}
	if err := w.after(ctx, h, changed || pending, out); err != nil {
		return err
	}
	if _, err := h.Run(ctx, remote.Command{Script: "rm -f " + remote.Quote(w.pending())}); err != nil {
		return fmt.Errorf("%s: %w", w.guest, err)
	}
	return nil
}

// systemctl runs systemctl verbs on a host.
func systemctl(ctx context.Context, h remote.Host, guest, script string) error {
	if _, err := h.Run(ctx, remote.Command{Script: script, Timeout: 2 * time.Minute}); err != nil {
		return fmt.Errorf("%s: %w", guest, err)
	}
	return nil
}

// ensureService starts unit unless it runs, and reloads it (or restarts,
// when reload is "restart") when its configuration changed.
func ensureService(ctx context.Context, h remote.Host, guest, unit string, changed bool, reload string, out io.Writer) error {
	u := remote.Quote(unit)
	res, err := h.Run(ctx, remote.Command{Script: activeScript(unit)})
	if err != nil {
		return fmt.Errorf("%s: %w", guest, err)
	}
	switch {
	case strings.TrimSpace(string(res.Stdout)) != "active":
		if err := systemctl(ctx, h, guest, "systemctl enable "+u+" >/dev/null 2>&1; systemctl restart "+u); err != nil {
			return err
		}
		fmt.Fprintf(out, "started %s\n", unit)
	case changed:
		if err := systemctl(ctx, h, guest, "systemctl "+reload+" "+u); err != nil {
			return err
		}
		fmt.Fprintf(out, "%sed %s\n", strings.TrimSuffix(reload, "e"), unit)
	}
	return nil
}

// unifiedDiff is the unified diff plans show for a changed file.
func unifiedDiff(from, to, a, b string) string {
	if a == b {
		return ""
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b), FromFile: from, ToFile: to, Context: 3,
	})
	if err != nil {
		return ""
	}
	return d
}
