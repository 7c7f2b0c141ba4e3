package host

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// The kernel state a Kubernetes node's preparation touches: swap (/proc/swaps
// from the swap lines of /etc/fstab at boot), modules (/proc/modules, with
// /etc/modules-load.d at boot) and the sysctl keys that exist only while a
// module is loaded (net.bridge.* with br_netfilter).

const (
	swapsHeader = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
	// A fresh Debian 12 cloud guest as homelab's templates make them: a
	// swap file, on at boot.
	fstabDefault = "# /etc/fstab: static file system information.\nUUID=8d3c3a3e-7c1f-4f55-9d0f-3b5e2a1c9f10 / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1\nUUID=5C2D-1E0F /boot/efi vfat defaults 0 0\n/swapfile none swap sw 0 0\n"
)

// baseModules are the modules a fresh guest has loaded, as /proc/modules
// lists them.
var baseModules = []string{"ext4", "crc16", "mbcache", "jbd2", "virtio_net", "net_failover", "failover", "virtio_scsi", "virtio_pci"}

// knownModules are the modules modprobe can load; deps are loaded with them.
var knownModules = map[string][]string{
	"overlay": nil, "br_netfilter": {"bridge", "stp", "llc"}, "bridge": {"stp", "llc"}, "stp": {"llc"}, "llc": nil,
	"ip_vs": nil, "ip_vs_rr": {"ip_vs"}, "nf_conntrack": nil, "ip_tables": nil, "xt_set": nil, "ip_set": nil,
	"vxlan": nil, "wireguard": nil, "dummy": nil, "ipip": nil,
}

// seedKernel writes a fresh host's /etc/fstab, /swapfile and /proc state.
func (h *Host) seedKernel() error {
	if err := h.writeFile("/etc/fstab", []byte(fstabDefault), 0o644); err != nil {
		return err
	}
	if err := h.writeFile("/swapfile", nil, 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll(h.local("/", "/etc/modules-load.d"), 0o755); err != nil {
		return err
	}
	h.bootKernel()
	return nil
}

// cgroupV1Controllers are the directories /sys/fs/cgroup holds on a
// cgroup v1 host; cgroupV2Controllers what cgroup.controllers lists on a
// cgroup v2 one (a Debian 12 guest).
var (
	cgroupV1Controllers = []string{"blkio", "cpu,cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "net_cls,net_prio", "perf_event", "pids", "systemd"}
	cgroupV2Controllers = "cpuset cpu io memory hugetlb pids rdma misc\n"
)

// bootCgroups sets /sys/fs/cgroup as the host's hierarchy shows it: one
// directory per controller on cgroup v1, cgroup.controllers on v2 (what
// `test -f /sys/fs/cgroup/cgroup.controllers` tells apart).
func (h *Host) bootCgroups() {
	dir := h.local("/", "/sys/fs/cgroup")
	os.RemoveAll(dir)
	if !h.spec.CgroupV1 {
		h.writeFile("/sys/fs/cgroup/cgroup.controllers", []byte(cgroupV2Controllers), 0o444)
		return
	}
	for _, c := range cgroupV1Controllers {
		os.MkdirAll(filepath.Join(dir, c), 0o755)
	}
}

// bootKernel sets /proc/swaps, /proc/modules and /sys/fs/cgroup as a boot
// leaves them.
func (h *Host) bootKernel() {
	h.bootCgroups()
	b, _ := h.readFile("/etc/fstab")
	swaps := swapsHeader
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == "swap" && !strings.HasPrefix(f[0], "#") {
			swaps += fmt.Sprintf("%-40s%s\t\t1048572\t\t0\t\t-2\n", f[0], "file")
		}
	}
	h.writeFile("/proc/swaps", []byte(swaps), 0o444)
	mods := slices.Clone(baseModules)
	entries, _ := os.ReadDir(h.local("/", "/etc/modules-load.d"))
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		b, _ := h.readFile("/etc/modules-load.d/" + e.Name())
		for _, line := range strings.Split(string(b), "\n") {
			if m := strings.TrimSpace(line); m != "" && m[0] != '#' && m[0] != ';' {
				mods = addModule(mods, m)
			}
		}
	}
	h.writeModules(mods)
}

// modules returns the loaded modules.
func (h *Host) modules() []string {
	b, _ := h.readFile("/proc/modules")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

func addModule(mods []string, m string) []string {
	if _, ok := knownModules[m]; !ok || slices.Contains(mods, m) {
		return mods
	}
	for _, d := range knownModules[m] {
		mods = addModule(mods, d)
	}
	return append(mods, m)
}

func (h *Host) writeModules(mods []string) {
	var b strings.Builder
	for i := len(mods) - 1; i >= 0; i-- {
		users := []string{}
		for _, o := range mods {
			if slices.Contains(knownModules[o], mods[i]) {
				users = append(users, o)
			}
		}
		used := "-"
		if len(users) > 0 {
			used = strings.Join(users, ",") + ","
		}
		fmt.Fprintf(&b, "%s %d %d %s Live 0x0000000000000000\n", mods[i], 16384*(len(mods[i])%7+1), len(users), used)
	}
	h.writeFile("/proc/modules", []byte(b.String()), 0o444)
}

// knownSysctl reports whether /proc/sys has key: the net.bridge keys only
// while br_netfilter is loaded.
func (h *Host) knownSysctl(key string) bool {
	if _, ok := sysctlDefault(key); !ok {
		return false
	}
	return !strings.HasPrefix(key, "net.bridge.") || slices.Contains(h.modules(), "br_netfilter")
}

// sysctlSystem is `sysctl --system`: the sysctl.d directories in the
// order procps 4 reads them, then /etc/sysctl.conf.
func sysctlSystem(c *Call, quiet bool) int {
	h := c.Host
	if !c.Root() {
		fmt.Fprintln(c.Stderr, "sysctl: permission denied on key \"kernel.pid_max\"")
		return 255
	}
	byName := map[string]string{}
	for _, dir := range []string{"/usr/lib/sysctl.d", "/lib/sysctl.d", "/run/sysctl.d", "/etc/sysctl.d"} {
		entries, _ := os.ReadDir(h.local("/", dir))
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".conf") {
				byName[e.Name()] = path.Join(dir, e.Name())
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	files := []string{}
	for _, n := range names {
		files = append(files, byName[n])
	}
	files = append(files, "/etc/sysctl.conf")
	status := 0
	for _, f := range files {
		set, unknown, err := h.applySysctl(f)
		if err != nil {
			continue
		}
		if !quiet {
			fmt.Fprintf(c.Stdout, "* Applying %s ...\n", f)
		}
		status = max(status, reportSysctl(c, set, unknown, quiet))
	}
	return status
}

// reportSysctl prints what applying a sysctl file did, as sysctl -p and
// --system do: the keys it could not set, and (unless quiet) those it
// set. It returns 255 when a key was unknown.
func reportSysctl(c *Call, set [][2]string, unknown []string, quiet bool) int {
	status := 0
	for _, k := range unknown {
		fmt.Fprintf(c.Stderr, "sysctl: cannot stat /proc/sys/%s: No such file or directory\n", strings.ReplaceAll(k, ".", "/"))
		status = 255
	}
	if !quiet {
		for _, kv := range set {
			fmt.Fprintf(c.Stdout, "%s = %s\n", kv[0], kv[1])
		}
	}
	return status
}

// modprobe is `modprobe [-a] [-q] MODULE...` (without -a, one module).
func modprobe(_ context.Context, c *Call) int {
	var mods []string
	all, quiet := false, false
	for _, a := range c.Args[1:] {
		switch {
		case a == "-a" || a == "--all":
			all = true
		case a == "-q" || a == "--quiet":
			quiet = true
		case strings.HasPrefix(a, "-"):
		default:
			mods = append(mods, a)
		}
	}
	if len(mods) == 0 {
		fmt.Fprintln(c.Stderr, "modprobe: ERROR: missing parameters. See -h.")
		return 1
	}
	if !all {
		mods = mods[:1] // the rest are module parameters
	}
	loaded := c.Host.modules()
	status := 0
	for _, m := range mods {
		m = strings.ReplaceAll(m, "-", "_")
		if _, ok := knownModules[m]; !ok {
			if !quiet {
				fmt.Fprintf(c.Stderr, "modprobe: FATAL: Module %s not found in directory /lib/modules/6.1.0-28-amd64\n", m)
			}
			return 1
		}
		if slices.Contains(loaded, m) {
			continue
		}
		if !c.Root() {
			fmt.Fprintf(c.Stderr, "modprobe: ERROR: could not insert '%s': Operation not permitted\n", m)
			status = 1
			continue
		}
		loaded = addModule(loaded, m)
	}
	c.Host.writeModules(loaded)
	return status
}

// lsmod lists /proc/modules.
func lsmod(_ context.Context, c *Call) int {
	b, _ := c.Host.readFile("/proc/modules")
	fmt.Fprintln(c.Stdout, "Module                  Size  Used by")
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		used := f[2]
		if f[3] != "-" {
			used += " " + strings.TrimSuffix(f[3], ",")
		}
		fmt.Fprintf(c.Stdout, "%-19s %8s  %s\n", f[0], f[1], used)
	}
	return 0
}

// swapProgram is `swapoff -a` / `swapoff FILE` and `swapon -a`.
func swapProgram(_ context.Context, c *Call) int {
	name := path.Base(c.Args[0])
	h := c.Host
	if !c.Root() {
		// util-linux's words for a user without CAP_SYS_ADMIN.
		fmt.Fprintf(c.Stderr, "%s: cannot open /dev/null: Permission denied\n", name)
		return 1
	}
	var targets []string
	all := false
	for _, a := range c.Args[1:] {
		switch {
		case a == "-a" || a == "--all":
			all = true
		case strings.HasPrefix(a, "-"):
		default:
			targets = append(targets, a)
		}
	}
	b, _ := h.readFile("/proc/swaps")
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")[1:]
	if name == "swapon" {
		if all {
			h.bootSwaps()
		}
		return 0
	}
	keep := swapsHeader
	status := 0
	for _, t := range targets {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Fields(l)[0] == t }) {
			fmt.Fprintf(c.Stderr, "swapoff: %s: swapoff failed: Invalid argument\n", t)
			status = 4
		}
	}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && !all && !slices.Contains(targets, f[0]) {
			keep += l + "\n"
		}
	}
	h.writeFile("/proc/swaps", []byte(keep), 0o444)
	return status
}

// bootSwaps turns on the swaps of /etc/fstab, keeping the modules.
func (h *Host) bootSwaps() {
	mods, _ := h.readFile("/proc/modules")
	h.bootKernel()
	h.writeFile("/proc/modules", mods, 0o444)
}

// getent is `getent hosts NAME...` over /etc/hosts.
func getent(_ context.Context, c *Call) int {
	if len(c.Args) < 2 {
		fmt.Fprintln(c.Stderr, "getent: wrong number of arguments\nTry `getent --help' or `getent --usage' for more information.")
		return 1
	}
	if db := c.Args[1]; db != "hosts" && db != "ahostsv4" {
		fmt.Fprintf(c.Stderr, "Unknown database: %s\nTry `getent --help' or `getent --usage' for more information.\n", db)
		return 1
	}
	b, _ := c.Host.readFile("/etc/hosts")
	status := 0
	for _, name := range c.Args[2:] {
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			f := strings.Fields(line)
			if len(f) < 2 || !strings.Contains(f[0], ".") || !(f[0] == name || slices.Contains(f[1:], name)) {
				continue
			}
			fmt.Fprintf(c.Stdout, "%-15s %s\n", f[0], strings.Join(f[1:], " "))
			found = true
			break
		}
		if !found && c.Host.lab.opts.DNS != nil {
			// Not in /etc/hosts: the resolver asks DNS (nsswitch "files dns").
			if a, ok := c.Host.lab.opts.DNS(c.Host.IP(), name); ok {
				fmt.Fprintf(c.Stdout, "%-15s %s\n", a, name)
				found = true
			}
		}
		if !found {
			status = 2
		}
	}
	return status
}

// gpgProgram is `gpg --dearmor [--batch] [--yes] [-o FILE] [FILE]`.
func gpgProgram(_ context.Context, c *Call) int {
	var out, in string
	dearmor, yes := false, false
	args := c.Args[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--dearmor" || a == "--dearmour":
			dearmor = true
		case a == "--yes":
			yes = true
		case a == "-o" || a == "--output":
			if i+1 < len(args) {
				out = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "-"):
		default:
			in = a
		}
	}
	if !dearmor {
		fmt.Fprintln(c.Stderr, "gpg: the simulated gpg knows --dearmor only")
		return 2
	}
	var r io.Reader = c.Stdin
	if in != "" && in != "-" {
		b, err := readAs(c, in)
		if err != nil {
			fmt.Fprintf(c.Stderr, "gpg: can't open '%s': %s\ngpg: dearmoring failed: %s\n", in, describe(err), describe(err))
			return 2
		}
		r = bytes.NewReader(b)
	}
	data, _ := io.ReadAll(r)
	text := string(data)
	start := strings.Index(text, "-----BEGIN PGP PUBLIC KEY BLOCK-----")
	end := strings.Index(text, "-----END PGP PUBLIC KEY BLOCK-----")
	var body []string
	if start >= 0 && end > start {
		inBody := false
		for _, line := range strings.Split(text[start:end], "\n")[1:] {
			line = strings.TrimSpace(line)
			switch {
			case !inBody && line == "":
				inBody = true
			case !inBody && !strings.Contains(line, ":"):
				inBody = true
				body = append(body, line)
			case inBody && line != "" && line[0] != '=':
				body = append(body, line)
			}
		}
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(body, ""))
	if len(body) == 0 || err != nil {
		fmt.Fprintln(c.Stderr, "gpg: no valid OpenPGP data found.")
		return 2
	}
	if out == "" || out == "-" {
		c.Stdout.Write(raw)
		return 0
	}
	p := c.Path(out)
	if _, err := os.Stat(c.Local(p)); err == nil && !yes {
		fmt.Fprintf(c.Stderr, "File '%s' exists. Overwrite? (y/N) gpg: signal Interrupt caught ... exiting\n", out)
		return 2
	}
	if !c.Host.writable(c.User, p) {
		fmt.Fprintf(c.Stderr, "gpg: can't create '%s': Permission denied\ngpg: [stdin]: dearmoring failed: Permission denied\n", out)
		return 2
	}
	if err := os.WriteFile(c.Local(p), raw, 0o644); err != nil {
		fmt.Fprintf(c.Stderr, "gpg: can't create '%s': %s\ngpg: [stdin]: dearmoring failed: %s\n", out, describe(err), describe(err))
		return 2
	}
	return 0
}
