package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// unit is a systemd unit of an installed package.
type unit struct {
	name, pkg       string
	enabled, active bool
	failed          bool
	// loaded is the digest of the unit's drop-ins systemd has read (at
	// install, boot or daemon-reload); wants are their Wants= units.
	loaded string
	wants  []string
	// journal holds the unit's last messages (journalctl -u).
	journal []string
}

// unitName adds ".service" to a bare unit name.
func unitName(name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	return name + ".service"
}

// dropIns returns the digest of a unit's drop-in files and the units their
// Wants= lines name.
func (h *Host) dropIns(name string) (digest string, wants []string) {
	dir := "/etc/systemd/system/" + name + ".d"
	entries, _ := os.ReadDir(h.local("/", dir))
	sum := sha256.New()
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".conf") {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	for _, f := range files {
		b, _ := h.readFile(path.Join(dir, f))
		fmt.Fprintf(sum, "%s\n%s\n", f, b)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Wants="); ok {
				wants = append(wants, strings.Fields(v)...)
			}
		}
	}
	return hex.EncodeToString(sum.Sum(nil)), wants
}

// lookupUnit returns the unit named name, nil when no installed package
// ships it.
func (h *Host) lookupUnit(name string) *unit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.units[name]
}

// daemonReload makes systemd read every unit's drop-ins again.
func (h *Host) daemonReload() {
	h.mu.Lock()
	names := make([]string, 0, len(h.units))
	for n := range h.units {
		names = append(names, n)
	}
	h.mu.Unlock()
	for _, n := range names {
		digest, wants := h.dropIns(n)
		h.mu.Lock()
		h.units[n].loaded, h.units[n].wants = digest, wants
		h.mu.Unlock()
	}
}

// changedOnDisk warns, as systemctl does, when a unit's drop-ins changed
// since systemd read them.
func (h *Host) changedOnDisk(name string, stderr io.Writer) {
	digest, _ := h.dropIns(name)
	h.mu.Lock()
	u := h.units[name]
	changed := u != nil && u.loaded != digest
	h.mu.Unlock()
	if changed {
		fmt.Fprintf(stderr, "Warning: The unit file, source configuration file or drop-ins of %s changed on disk. Run 'systemctl daemon-reload' to reload units.\n", name)
	}
}

// record appends lines to a unit's journal.
func (h *Host) record(name string, lines ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.units[name]; u != nil {
		u.journal = append(u.journal, lines...)
		if n := len(u.journal); n > 200 {
			u.journal = u.journal[n-200:]
		}
	}
}

// jobFailed is systemctl's message for a start or reload whose control
// process failed.
func jobFailed(w io.Writer, name string) {
	fmt.Fprintf(w, "Job for %s failed because the control process exited with error code.\nSee \"systemctl status %s\" and \"journalctl -xeu %s\" for details.\n", name, name, name)
}

// startUnit starts a unit (restart: stops it first) and reports the exit
// status systemctl would; messages go to c.Stderr.
func (h *Host) startUnit(ctx context.Context, c *Call, name string, restart bool) int {
	u := h.lookupUnit(name)
	if u == nil {
		fmt.Fprintf(c.Stderr, "Failed to start %s: Unit %s not found.\n", name, name)
		return 5
	}
	h.mu.Lock()
	active, wants := u.active, u.wants
	h.mu.Unlock()
	if active && !restart {
		return 0
	}
	for _, w := range wants {
		if w != name && h.lookupUnit(w) != nil {
			h.startUnit(ctx, &Call{Host: h, Args: []string{"systemctl"}, User: "root", Stdout: io.Discard, Stderr: io.Discard}, w, false)
		}
	}
	var ok bool
	switch name {
	case "haproxy.service":
		ok = h.startHAProxy(ctx)
	case "keepalived.service":
		var skipped bool
		ok, skipped = h.startKeepalived()
		if skipped {
			return 0 // ConditionFileNotEmpty failed: systemd skips the unit
		}
	default:
		ok = true
	}
	h.mu.Lock()
	u.active, u.failed = ok, !ok
	h.mu.Unlock()
	if !ok {
		jobFailed(c.Stderr, name)
		return 1
	}
	h.record(name, "Started "+name+".")
	return 0
}

// stopUnit stops a unit.
func (h *Host) stopUnit(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.units[name]; u != nil {
		u.active, u.failed = false, false
		u.journal = append(u.journal, "Stopped "+name+".")
	}
	switch name {
	case "haproxy.service":
		h.haproxy = nil
	case "keepalived.service":
		h.keepalived, h.held = nil, nil
	}
}

// reloadUnit reloads a running unit's configuration.
func (h *Host) reloadUnit(ctx context.Context, c *Call, name string) int {
	u := h.lookupUnit(name)
	if u == nil {
		fmt.Fprintf(c.Stderr, "Failed to reload %s: Unit %s not found.\n", name, name)
		return 5
	}
	h.mu.Lock()
	active := u.active
	h.mu.Unlock()
	if !active {
		fmt.Fprintf(c.Stderr, "%s is not active, cannot reload.\n", name)
		return 1
	}
	switch name {
	case "haproxy.service":
		if !h.startHAProxy(ctx) {
			jobFailed(c.Stderr, name)
			return 1
		}
	case "keepalived.service":
		if ok, _ := h.startKeepalived(); !ok {
			jobFailed(c.Stderr, name)
			return 1
		}
	}
	h.record(name, "Reloaded "+name+".")
	return 0
}

// boot brings a host up: cloud-init's part (see cloudinit.go), sysctl.d
// applied, drop-ins read, enabled units started.
func (h *Host) boot() {
	h.cloudInitBoot()
	h.bootKernel()
	entries, _ := os.ReadDir(h.local("/", "/etc/sysctl.d"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".conf") {
			h.applySysctl("/etc/sysctl.d/" + e.Name())
		}
	}
	h.daemonReload()
	h.mu.Lock()
	var enabled []string
	for n, u := range h.units {
		if u.enabled {
			enabled = append(enabled, n)
		}
	}
	h.mu.Unlock()
	// HAProxy before keepalived, as the homelab drop-in orders them.
	sort.Slice(enabled, func(i, j int) bool {
		return enabled[i] == "haproxy.service" || enabled[j] != "haproxy.service" && enabled[i] < enabled[j]
	})
	c := &Call{Host: h, Args: []string{"systemd"}, User: "root", Stdout: io.Discard, Stderr: io.Discard}
	for _, n := range enabled {
		h.startUnit(context.Background(), c, n, false)
	}
}

// systemctl is systemctl's unit verbs: is-active, is-enabled, is-failed,
// status, start, stop, restart, reload, reload-or-restart, enable, disable,
// daemon-reload, is-system-running.
func systemctl(ctx context.Context, c *Call) int {
	h := c.Host
	var verb string
	var names []string
	quiet, now := false, false
	for _, a := range c.Args[1:] {
		switch {
		case a == "-q" || a == "--quiet":
			quiet = true
		case a == "--now":
			now = true
		case strings.HasPrefix(a, "-"):
		case verb == "":
			verb = a
		default:
			names = append(names, unitName(a))
		}
	}
	privileged := map[string]bool{"start": true, "stop": true, "restart": true, "reload": true, "reload-or-restart": true,
		"enable": true, "disable": true, "daemon-reload": true, "try-restart": true}
	if privileged[verb] && !c.Root() {
		what := "Failed to " + verb + " " + strings.Join(names, " ")
		if verb == "daemon-reload" {
			what = "Failed to reload daemon"
		}
		fmt.Fprintf(c.Stderr, "%s: Interactive authentication required.\nSee system logs and 'systemctl status %s' for details.\n", what, strings.Join(names, " "))
		return 1
	}
	if len(names) == 0 && verb != "daemon-reload" && verb != "is-system-running" && verb != "" {
		fmt.Fprintf(c.Stderr, "Too few arguments.\n")
		return 1
	}
	state := func(n string) (active, enabled string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		u := h.units[n]
		switch {
		case u == nil:
			return "inactive", ""
		case u.failed:
			active = "failed"
		case u.active:
			active = "active"
			if pkg := h.lab.packages[u.pkg]; pkg.ActiveState != nil {
				h.mu.Unlock()
				if st := pkg.ActiveState(h, n); st != "" {
					active = st
				}
				h.mu.Lock()
			}
		default:
			active = "inactive"
		}
		enabled = "disabled"
		if u.enabled {
			enabled = "enabled"
		}
		return active, enabled
	}
	status := 0
	switch verb {
	case "is-active", "is-failed":
		status = 3
		if verb == "is-failed" {
			status = 1
		}
		all := true
		for _, n := range names {
			a, _ := state(n)
			if !quiet {
				fmt.Fprintln(c.Stdout, a)
			}
			if verb == "is-active" && a != "active" || verb == "is-failed" && a != "failed" {
				all = false
			}
		}
		if all {
			status = 0
		}
	case "is-enabled":
		for _, n := range names {
			_, e := state(n)
			if e == "" {
				fmt.Fprintf(c.Stderr, "Failed to get unit file state for %s: No such file or directory\n", n)
				return 1
			}
			if !quiet {
				fmt.Fprintln(c.Stdout, e)
			}
			if e != "enabled" {
				status = 1
			}
		}
	case "status":
		for _, n := range names {
			u := h.lookupUnit(n)
			if u == nil {
				fmt.Fprintf(c.Stderr, "Unit %s could not be found.\n", n)
				return 4
			}
			a, e := state(n)
			h.mu.Lock()
			journal := append([]string(nil), u.journal...)
			h.mu.Unlock()
			fmt.Fprintf(c.Stdout, "● %s\n     Loaded: loaded (/lib/systemd/system/%s; %s; preset: enabled)\n     Active: %s\n", n, n, e, a)
			for _, l := range journal[max(0, len(journal)-10):] {
				fmt.Fprintf(c.Stdout, "%s %s: %s\n", h.spec.Name, strings.TrimSuffix(n, ".service"), l)
			}
			if a != "active" {
				status = 3
			}
		}
	case "start", "restart", "try-restart", "reload-or-restart":
		for _, n := range names {
			h.changedOnDisk(n, c.Stderr)
			if verb == "try-restart" {
				if a, _ := state(n); a != "active" {
					continue
				}
			}
			if s := h.startUnit(ctx, c, n, verb != "start"); s != 0 {
				status = s
			}
		}
	case "reload":
		for _, n := range names {
			h.changedOnDisk(n, c.Stderr)
			if s := h.reloadUnit(ctx, c, n); s != 0 {
				status = s
			}
		}
	case "stop":
		for _, n := range names {
			if h.lookupUnit(n) == nil {
				fmt.Fprintf(c.Stderr, "Failed to stop %s: Unit %s not loaded.\n", n, n)
				status = 5
				continue
			}
			h.stopUnit(n)
		}
	case "enable", "disable":
		for _, n := range names {
			u := h.lookupUnit(n)
			if u == nil {
				fmt.Fprintf(c.Stderr, "Failed to %s unit: Unit file %s does not exist.\n", verb, n)
				return 1
			}
			h.mu.Lock()
			was := u.enabled
			u.enabled = verb == "enable"
			h.mu.Unlock()
			if was != (verb == "enable") {
				base := strings.TrimSuffix(n, ".service")
				fmt.Fprintf(c.Stderr, "Synchronizing state of %s with SysV service script with /lib/systemd/systemd-sysv-install.\nExecuting: /lib/systemd/systemd-sysv-install %s %s\n", n, verb, base)
			}
			switch {
			case now && verb == "enable":
				if s := h.startUnit(ctx, c, n, false); s != 0 {
					status = s
				}
			case now:
				h.stopUnit(n)
			}
		}
	case "daemon-reload":
		h.daemonReload()
	case "is-system-running":
		running := "running"
		h.mu.Lock()
		for _, u := range h.units {
			if u.failed {
				running = "degraded"
			}
		}
		h.mu.Unlock()
		fmt.Fprintln(c.Stdout, running)
		if running != "running" {
			status = 1
		}
	case "":
		fmt.Fprintln(c.Stderr, "systemctl: simulated hosts list no units; name a verb")
		return 1
	default:
		fmt.Fprintf(c.Stderr, "Unknown command verb %s.\n", verb)
		return 1
	}
	return status
}

// journalctl is `journalctl -u UNIT`: the unit's last messages.
func journalctl(_ context.Context, c *Call) int {
	f, _, ok := parseFlags(c, c.Args[1:], "uxenq", "un", map[string]byte{"unit": 'u', "no-pager": 'q'})
	if !ok {
		return 1
	}
	name, given := f['u']
	if !given {
		return 0
	}
	u := c.Host.lookupUnit(unitName(name))
	if u == nil {
		fmt.Fprintln(c.Stdout, "-- No entries --")
		return 0
	}
	c.Host.mu.Lock()
	journal := append([]string(nil), u.journal...)
	c.Host.mu.Unlock()
	for _, l := range journal {
		fmt.Fprintf(c.Stdout, "%s %s: %s\n", c.Host.spec.Name, strings.TrimSuffix(unitName(name), ".service"), l)
	}
	return 0
}
