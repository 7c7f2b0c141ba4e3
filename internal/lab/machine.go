//go:build linux

package lab

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// MachineState is what a lab must leave as it found it on the machine:
// every sysctl, the cgroup directories, the iptables tables and rules,
// the root network namespace's links, addresses and routes, and the
// machine's mounts.
type MachineState map[string]string

// volatile sysctls change on their own; they are left out.
var volatileSysctls = []string{
	"fs.dentry-state", "fs.file-nr", "fs.inode-nr", "fs.inode-state", "fs.aio-nr", "fs.quota.",
	"kernel.random.", "kernel.ns_last_pid", "kernel.pty.nr", "kernel.sched_domain.", "kernel.tainted",
	"net.netfilter.nf_conntrack_count", "net.ipv4.tcp_mem", "net.ipv4.udp_mem", "vm.stat_refresh",
	"kernel.perf_event_max_sample_rate", "fs.binfmt_misc.", "net.ipv4.route.", "net.ipv6.route.",
	"fs.nr_open", "kernel.core_pattern",
}

// volatileCgroups are cgroup directories whose children come and go with
// other work on the machine, not the lab's: the per-job cgroups the
// machine's process supervisor (process_api, which runs every command of
// a session on these machines) makes while a lab runs. Everything else in
// the cgroup trees counts: a lab host escaping its own cgroup shows up as
// a new directory anywhere else.
var volatileCgroups = []string{"process_api"}

// volatileCgroup says whether p lies below a volatile cgroup directory.
func volatileCgroup(p string) bool {
	parts := strings.Split(p, "/")
	for i, part := range parts[:len(parts)-1] {
		if slices.Contains(volatileCgroups, part) && i > 0 {
			return true
		}
	}
	return false
}

// Snapshot reads the machine's state.
func Snapshot() (MachineState, error) {
	s := MachineState{}
	out, err := exec.Command("sysctl", "-a").Output()
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("sysctl -a: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, " = ")
		if !ok || strings.Contains(k, ".hlt") {
			continue
		}
		skip := false
		for _, p := range volatileSysctls {
			if strings.HasPrefix(k, p) {
				skip = true
			}
		}
		if !skip {
			s["sysctl "+k] = v
		}
	}
	var cgroups []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && !volatileCgroup(p) {
			cgroups = append(cgroups, p)
		}
		return nil
	})
	sort.Strings(cgroups)
	s["cgroups"] = strings.Join(cgroups, "\n")
	// The hierarchies (a controller mounted anew shows a new hierarchy
	// id); num_cgroups is left out: removed cgroups are counted until the
	// kernel frees them.
	if b, err := os.ReadFile("/proc/cgroups"); err == nil {
		var h []string
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 4 {
				h = append(h, f[0]+" "+f[1]+" "+f[3])
			}
		}
		s["/proc/cgroups"] = strings.Join(h, "\n")
	}
	for _, f := range []string{"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"} {
		b, _ := os.ReadFile(f)
		s[f] = string(b)
	}
	for name, argv := range map[string][]string{
		"iptables-save": {"iptables-save"}, "ip6tables-save": {"ip6tables-save"}, "nft": {"nft", "list", "ruleset"},
		"links": {"ip", "-o", "link"}, "addresses": {"ip", "-o", "addr"}, "routes": {"ip", "route", "show", "table", "all"},
	} {
		if _, err := exec.LookPath(argv[0]); err != nil {
			continue
		}
		out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		var keep []string
		for _, l := range strings.Split(string(out), "\n") {
			// Counters and the time a rule set was saved differ between runs.
			if strings.HasPrefix(l, "#") || strings.HasPrefix(l, ":") {
				continue
			}
			keep = append(keep, l)
		}
		s[name] = strings.Join(keep, "\n")
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	var ms []string
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			ms = append(ms, f[4])
		}
	}
	sort.Strings(ms)
	s["mounts"] = strings.Join(ms, "\n")
	return s, nil
}

// Baseline snapshots the machine twice, a moment apart, and drops what
// changed between the two (activity that is not the lab's); logf hears
// which parts are left out.
func Baseline(logf func(format string, args ...any)) (MachineState, error) {
	a, err := Snapshot()
	if err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond)
	b, err := Snapshot()
	if err != nil {
		return nil, err
	}
	for k, v := range a {
		if b[k] != v {
			logf("machine state %q changes on its own; not compared", k)
			delete(a, k)
		}
	}
	return a, nil
}

// Changes says, for every part of the state before that the machine now
// has otherwise, what it was and what it is.
func (before MachineState) Changes() ([]string, error) {
	after, err := Snapshot()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range sortedKeys(before) {
		if after[k] != before[k] {
			out = append(out, fmt.Sprintf("%s\nbefore:\n%s\nafter:\n%s", k, before[k], after[k]))
		}
	}
	return out, nil
}
