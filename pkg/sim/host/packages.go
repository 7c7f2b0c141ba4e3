package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Package is a Debian package apt-get can install on the simulated hosts.
type Package struct {
	Name, Version string
	// Binaries are the paths of its programs (e.g. /usr/sbin/haproxy):
	// each runs the Program named after its base name.
	Binaries []string
	// Files are the other files it installs, by path.
	Files map[string]string
	// Dirs are the directories it creates.
	Dirs []string
	// Users are the system users (each with its group) it adds.
	Users []string
	// Units are the systemd units it ships; Enable lists those its
	// maintainer scripts enable and start, as Debian's do.
	Units, Enable []string
	// Depends are installed with it.
	Depends []string
	// External packages are not on Debian's mirror: apt-get finds them
	// only in the Packages index of a third-party repository that a
	// sources list names and `apt-get update` fetched (from
	// LabOptions.Internet), at the versions that index lists.
	External bool
	// ActiveState, when set, is the state systemctl reports for a started
	// unit of the package: "" is "active"; "activating" is a service that
	// keeps crashing and being restarted.
	ActiveState func(h *Host, unit string) string
}

// baseSystem returns the packages of a fresh Debian 12 cloud image.
func baseSystem() []string {
	return []string{"base-files", "bash", "coreutils", "dash", "dpkg", "apt", "grep", "sed", "hostname",
		"passwd", "sudo", "systemd", "procps", "iproute2", "openssh-server", "cron", "kmod", "mount", "libc-bin"}
}

// catalogue returns the packages the simulated Debian mirror has.
func catalogue() []Package {
	coreutils := []string{"cat", "echo", "printf", "test", "[", "true", "false", "sleep", "tee", "head", "tail", "wc",
		"mkdir", "rm", "mv", "cp", "touch", "ls", "chmod", "chown", "install", "stat", "sha256sum", "id", "whoami",
		"uname", "basename", "dirname", "env", "timeout"}
	for i, p := range coreutils {
		coreutils[i] = "/usr/bin/" + p
	}
	return []Package{
		{Name: "base-files", Version: "12.4+deb12u8"},
		{Name: "bash", Version: "5.2.15-2+b7", Binaries: []string{"/usr/bin/bash"}},
		{Name: "coreutils", Version: "9.1-1", Binaries: coreutils},
		{Name: "dash", Version: "0.5.12-2", Binaries: []string{"/usr/bin/dash", "/usr/bin/sh"}},
		{Name: "dpkg", Version: "1.21.22", Binaries: []string{"/usr/bin/dpkg", "/usr/bin/dpkg-query"}},
		{Name: "apt", Version: "2.6.1", Binaries: []string{"/usr/bin/apt-get", "/usr/bin/apt", "/usr/bin/apt-mark"}},
		{Name: "kmod", Version: "30+20221128-1", Binaries: []string{"/usr/sbin/modprobe", "/usr/sbin/lsmod"}},
		{Name: "mount", Version: "2.38.1-5+deb12u3", Binaries: []string{"/usr/sbin/swapoff", "/usr/sbin/swapon"}},
		{Name: "libc-bin", Version: "2.36-9+deb12u9", Binaries: []string{"/usr/bin/getent"}},
		{Name: "gpg", Version: "2.2.40-1.1", Binaries: []string{"/usr/bin/gpg"}},
		{Name: "gnupg", Version: "2.2.40-1.1", Depends: []string{"gpg"}},
		{Name: "grep", Version: "3.8-5", Binaries: []string{"/usr/bin/grep"}},
		{Name: "sed", Version: "4.9-1", Binaries: []string{"/usr/bin/sed"}},
		{Name: "hostname", Version: "3.23+nmu1", Binaries: []string{"/usr/bin/hostname"}},
		{Name: "passwd", Version: "1:4.13+dfsg1-1+b1", Binaries: []string{"/usr/sbin/useradd"}},
		{Name: "sudo", Version: "1.9.13p3-1+deb12u1", Binaries: []string{"/usr/bin/sudo"}},
		{Name: "systemd", Version: "252.33-1~deb12u1", Binaries: []string{"/usr/bin/systemctl", "/usr/bin/journalctl"}},
		{Name: "procps", Version: "2:4.0.2-3", Binaries: []string{"/usr/sbin/sysctl"}},
		{Name: "iproute2", Version: "6.1.0-3", Binaries: []string{"/usr/bin/ip"}},
		{Name: "openssh-server", Version: "1:9.2p1-2+deb12u3", Units: []string{"ssh.service"}, Enable: []string{"ssh.service"}},
		{Name: "cron", Version: "3.0pl1-162", Units: []string{"cron.service"}, Enable: []string{"cron.service"}},
		{Name: "cloud-init", Version: "22.4.2-1+deb12u1", Binaries: []string{"/usr/bin/cloud-init"},
			Files: map[string]string{HostsTemplate: hostsDebianTemplate}},
		{Name: "curl", Version: "7.88.1-10+deb12u8", Binaries: []string{"/usr/bin/curl"}},
		{Name: "socat", Version: "1.7.4.4-2", Binaries: []string{"/usr/bin/socat"}},
		{Name: "haproxy", Version: "2.6.12-1+deb12u1", Binaries: []string{"/usr/sbin/haproxy"},
			Users: []string{"haproxy"}, Dirs: []string{"/var/lib/haproxy", "/run/haproxy"},
			Files: map[string]string{
				"/etc/haproxy/haproxy.cfg":                haproxyDefaultConfig,
				"/etc/default/haproxy":                    "# Defaults file for HAProxy\n#CONFIG=\"/etc/haproxy/haproxy.cfg\"\n",
				"/usr/lib/systemd/system/haproxy.service": "[Unit]\nDescription=HAProxy Load Balancer\n",
			},
			Units: []string{"haproxy.service"}, Enable: []string{"haproxy.service"}},
		{Name: "keepalived", Version: "1:2.2.7-1+b2", Binaries: []string{"/usr/sbin/keepalived"},
			Dirs: []string{"/etc/keepalived"},
			Files: map[string]string{
				"/etc/default/keepalived":                    "# Options to pass to keepalived\nDAEMON_ARGS=\"\"\n",
				"/usr/lib/systemd/system/keepalived.service": "[Unit]\nDescription=Keepalive Daemon (LVS and VRRP)\nConditionFileNotEmpty=/etc/keepalived/keepalived.conf\n",
			},
			Units: []string{"keepalived.service"}, Enable: []string{"keepalived.service"}},
	}
}

// haproxyDefaultConfig is Debian's /etc/haproxy/haproxy.cfg (without its
// errorfile lines).
const haproxyDefaultConfig = `global
	log /dev/log	local0
	log /dev/log	local1 notice
	chroot /var/lib/haproxy
	stats socket /run/haproxy/admin.sock mode 660 level admin
	stats timeout 30s
	user haproxy
	group haproxy
	daemon

defaults
	log	global
	mode	http
	option	httplog
	option	dontlognull
        timeout connect 5000
        timeout client  50000
        timeout server  50000
`

// markerContent is what a simulated program's binary holds.
const markerContent = "#!/bin/sh\n# a program simulated by homelab's pkg/sim/host\n"

// dpkgStatus is one stanza of /var/lib/dpkg/status.
type dpkgStatus struct {
	name, version, arch string
	held                bool
}

type packageDB []dpkgStatus

func (db packageDB) find(name string) (dpkgStatus, bool) {
	for _, p := range db {
		if p.name == name {
			return p, true
		}
	}
	return dpkgStatus{}, false
}

func (db packageDB) installed(name string) bool { _, ok := db.find(name); return ok }

// packageDB reads /var/lib/dpkg/status: every stanza in it is installed.
func (h *Host) packageDB() (packageDB, error) {
	b, err := h.readFile("/var/lib/dpkg/status")
	if err != nil {
		return nil, err
	}
	var db packageDB
	for _, stanza := range strings.Split(string(b), "\n\n") {
		var p dpkgStatus
		installed := false
		for _, line := range strings.Split(stanza, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "Package":
				p.name = v
			case "Version":
				p.version = v
			case "Architecture":
				p.arch = v
			case "Status":
				installed = v == "install ok installed" || v == "hold ok installed"
				p.held = v == "hold ok installed"
			}
		}
		if p.name != "" && installed {
			db = append(db, p)
		}
	}
	return db, nil
}

// install puts a package (and what it depends on) on the host: its
// status, binaries, files, users and units. It neither prints nor starts
// anything; see aptGet.
func (h *Host) install(name string) error { return h.installVersion(name, "") }

// installVersion installs version of a package ("" is the newest
// available), replacing another installed version.
func (h *Host) installVersion(name, version string) error {
	pkg, ok := h.lab.packages[name]
	if !ok {
		return fmt.Errorf("no package %s", name)
	}
	if version == "" {
		if vs := h.versions(pkg); len(vs) > 0 {
			version = vs[len(vs)-1]
		}
	}
	if version != "" {
		pkg.Version = version
	}
	db, err := h.packageDB()
	if err != nil {
		return err
	}
	if p, ok := db.find(name); ok && p.version == pkg.Version {
		return nil
	}
	for _, d := range pkg.Depends {
		if err := h.install(d); err != nil {
			return err
		}
	}
	for _, d := range pkg.Dirs {
		if err := os.MkdirAll(h.local("/", d), 0o755); err != nil {
			return err
		}
	}
	for _, b := range pkg.Binaries {
		if err := h.writeFile(b, []byte(markerContent), 0o755); err != nil {
			return err
		}
	}
	for p, content := range pkg.Files {
		if _, err := os.Stat(h.local("/", p)); err == nil && strings.HasPrefix(p, "/etc/") {
			continue // a conffile the admin has: dpkg keeps it
		}
		if err := h.writeFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, u := range pkg.Users {
		if !h.knownUser(u) {
			c := &Call{Host: h, Args: []string{"useradd", "-r", "-M", "-d", "/var/lib/" + u, "-s", "/usr/sbin/nologin", u},
				User: "root", Stdout: io.Discard, Stderr: io.Discard}
			if status := useradd(context.Background(), c); status != 0 {
				return fmt.Errorf("add user %s: exit %d", u, status)
			}
		}
	}
	h.dbMu.Lock()
	status, _ := h.readFile("/var/lib/dpkg/status")
	selection := "install"
	if old, ok := db.find(name); ok {
		status = removeStanza(status, name)
		if old.held {
			selection = "hold"
		}
	}
	status = fmt.Appendf(status, "Package: %s\nStatus: %s ok installed\nPriority: optional\nArchitecture: amd64\nVersion: %s\nDescription: %s (simulated)\n\n",
		pkg.Name, selection, pkg.Version, pkg.Name)
	err = h.writeFile("/var/lib/dpkg/status", status, 0o644)
	h.dbMu.Unlock()
	if err != nil {
		return err
	}
	// dpkg's trigger reloads systemd: the new units' drop-ins are read.
	for _, u := range pkg.Units {
		digest, wants := h.dropIns(u)
		h.mu.Lock()
		if _, ok := h.units[u]; !ok {
			h.units[u] = &unit{name: u, pkg: pkg.Name, enabled: slices.Contains(pkg.Enable, u), loaded: digest, wants: wants}
		}
		h.mu.Unlock()
	}
	return nil
}

// dpkgFormat expands a dpkg-query --showformat for p.
func dpkgFormat(format string, p dpkgStatus) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		switch {
		case format[i] == '\\' && i+1 < len(format):
			i++
			switch format[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(format[i])
			}
		case format[i] == '$' && i+1 < len(format) && format[i+1] == '{':
			end := strings.IndexByte(format[i:], '}')
			if end < 0 {
				b.WriteString(format[i:])
				return b.String()
			}
			field, _, _ := strings.Cut(format[i+2:i+end], ";")
			switch field {
			case "Package", "binary:Package":
				b.WriteString(p.name)
			case "Version":
				b.WriteString(p.version)
			case "Architecture":
				b.WriteString(p.arch)
			case "Status":
				b.WriteString(map[bool]string{false: "install", true: "hold"}[p.held] + " ok installed")
			case "db:Status-Status":
				b.WriteString("installed")
			case "db:Status-Want":
				b.WriteString(map[bool]string{false: "install", true: "hold"}[p.held])
			case "db:Status-Abbrev":
				b.WriteString(map[bool]string{false: "ii ", true: "hi "}[p.held])
			}
			i += end
		default:
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

// dpkgQuery is `dpkg-query -W [-f FORMAT] [PACKAGE...]` and `-s PACKAGE`.
func dpkgQuery(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "Wsfl", "f", map[string]byte{"show": 'W', "status": 's', "showformat": 'f', "list": 'l'})
	if !ok {
		return 2
	}
	db, err := c.Host.packageDB()
	if err != nil {
		fmt.Fprintf(c.Stderr, "dpkg-query: error: failed to open package info file '/var/lib/dpkg/status' for reading: %s\n", describe(err))
		return 2
	}
	format, given := f['f']
	format = strings.TrimPrefix(format, "=") // dpkg reads -f=FORMAT as -f FORMAT
	if !given {
		format = "${binary:Package}\t${Version}\n"
	}
	switch {
	case f.has('s'):
		format = "Package: ${Package}\nStatus: ${Status}\nArchitecture: ${Architecture}\nVersion: ${Version}\n\n"
	case f.has('l'):
		format = "ii  ${Package}\t${Version}\t${Architecture}\n"
	case !f.has('W'):
		fmt.Fprintln(c.Stderr, "dpkg-query: error: need an action option\n\nType dpkg-query --help for help about querying packages.")
		return 2
	}
	if len(args) == 0 {
		for _, p := range db {
			fmt.Fprint(c.Stdout, dpkgFormat(format, p))
		}
		return 0
	}
	status := 0
	for _, pattern := range args {
		found := false
		for _, p := range db {
			if ok, _ := path.Match(pattern, p.name); ok {
				fmt.Fprint(c.Stdout, dpkgFormat(format, p))
				found = true
			}
		}
		if !found {
			if f.has('s') {
				fmt.Fprintf(c.Stderr, "dpkg-query: package '%s' is not installed and no information is available\n", pattern)
			} else {
				fmt.Fprintf(c.Stderr, "dpkg-query: no packages found matching %s\n", pattern)
			}
			status = 1
		}
	}
	return status
}

// dpkgJournal is where dpkg journals the status of what it is unpacking
// (/var/lib/dpkg/updates/NNNN); a file left there means dpkg was
// interrupted.
const dpkgJournal = "/var/lib/dpkg/updates/0000"

// dpkgInterrupted reports whether dpkg's journal holds an update (apt-pkg's
// CheckUpdates: a file whose name is all digits).
func (h *Host) dpkgInterrupted() bool {
	entries, _ := os.ReadDir(h.local("/", filepath.Dir(dpkgJournal)))
	for _, e := range entries {
		if strings.Trim(e.Name(), "0123456789") == "" {
			return true
		}
	}
	return false
}

// dpkg is `dpkg -s|-l|-W ...`, which dpkg hands to dpkg-query, and `dpkg
// --configure -a`, which finishes what an interrupted dpkg left.
func dpkg(ctx context.Context, c *Call) int {
	if len(c.Args) > 1 {
		switch c.Args[1] {
		case "-s", "--status", "-l", "--list", "-W", "--show":
			return dpkgQuery(ctx, c.with(append([]string{"dpkg-query"}, c.Args[1:]...)))
		case "--configure":
			if len(c.Args) != 3 || (c.Args[2] != "-a" && c.Args[2] != "--pending") {
				break
			}
			h := c.Host
			if !c.Root() {
				fmt.Fprintln(c.Stderr, "dpkg: error: requested operation requires superuser privilege")
				return 2
			}
			// dpkg does not wait for its lock.
			if _, upgrading, _ := h.aptLocked(); upgrading || !h.aptMu.TryLock() {
				fmt.Fprintf(c.Stderr, "dpkg: error: dpkg frontend lock was locked by another process with pid %d\nNote: removing the lock file is always wrong, can damage the locked area\nand the entire system. See <https://wiki.debian.org/Teams/Dpkg/FAQ#db-lock>.\n", h.pids.next())
				return 2
			}
			defer h.aptMu.Unlock()
			// The half-installed package stays uninstalled: apt-get
			// install installs it again.
			if err := os.Remove(h.local("/", dpkgJournal)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(c.Stderr, "dpkg: error: %s\n", describe(err))
				return 2
			}
			return 0
		}
	}
	fmt.Fprintln(c.Stderr, "dpkg: error: need an action option\n\nType dpkg --help for help about installing and deinstalling packages [*];\nUse 'apt' or 'aptitude' for user-friendly package management;")
	return 2
}

// aptGet is `apt-get update` and `apt-get install [-y] [-q]
// [--no-install-recommends] PACKAGE...`: packages the mirror does not have
// fail the whole install, as apt's resolver does.
func aptGet(ctx context.Context, c *Call) int {
	var words []string
	var lockTimeout time.Duration // -o DPkg::Lock::Timeout=N
	args := c.Args[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-o" && i+1 < len(args):
			k, v, _ := strings.Cut(args[i+1], "=")
			if strings.EqualFold(k, "DPkg::Lock::Timeout") {
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					lockTimeout = time.Duration(n) * time.Second
				}
			}
			i++
		case a == "-o" || a == "-t" || a == "-c":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			words = append(words, a)
		}
	}
	if len(words) == 0 {
		fmt.Fprintln(c.Stderr, "E: Invalid operation")
		return 100
	}
	lock := func(file string) int {
		fmt.Fprintf(c.Stderr, "E: Could not open lock file %s - open (13: Permission denied)\n", file)
		if strings.Contains(file, "dpkg") {
			fmt.Fprintf(c.Stderr, "E: Unable to acquire the dpkg frontend lock (%s), are you root?\n", file)
		} else {
			fmt.Fprintln(c.Stderr, "E: Unable to lock directory /var/lib/apt/lists/")
		}
		return 100
	}
	switch words[0] {
	case "update":
		if !c.Root() {
			return lock("/var/lib/apt/lists/lock")
		}
		return aptUpdate(ctx, c)
	case "install":
	default:
		fmt.Fprintf(c.Stderr, "E: Invalid operation %s\n", words[0])
		return 100
	}
	if !c.Root() {
		return lock("/var/lib/dpkg/lock-frontend")
	}
	h := c.Host
	if status := h.lockDpkg(ctx, c, lockTimeout); status != 0 {
		return status
	}
	defer h.aptMu.Unlock()
	if h.dpkgInterrupted() {
		// apt-pkg's debSystem::Lock, once it holds the lock.
		fmt.Fprintln(c.Stderr, "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem. ")
		return 100
	}
	fmt.Fprintln(c.Stdout, "Reading package lists...\nBuilding dependency tree...\nReading state information...")
	db, err := h.packageDB()
	if err != nil {
		fmt.Fprintf(c.Stderr, "E: %s\n", describe(err))
		return 100
	}
	var todo []Package
	allowHeld := slices.Contains(c.Args, "--allow-change-held-packages")
	for _, w := range words[1:] {
		name, version, pinned := strings.Cut(w, "=")
		pkg, ok := h.lab.packages[name]
		var versions []string
		if ok {
			versions = h.versions(pkg)
		}
		if len(versions) == 0 {
			fmt.Fprintf(c.Stderr, "E: Unable to locate package %s\n", name)
			return 100
		}
		pkg.Version = versions[len(versions)-1]
		if pinned {
			if !slices.Contains(versions, version) {
				fmt.Fprintf(c.Stderr, "E: Version '%s' for '%s' was not found\n", version, name)
				return 100
			}
			pkg.Version = version
		}
		if cur, ok := db.find(name); ok {
			if cur.version == pkg.Version {
				fmt.Fprintf(c.Stdout, "%s is already the newest version (%s).\n", name, pkg.Version)
				continue
			}
			if cur.held && !allowHeld {
				fmt.Fprintln(c.Stderr, "E: Held packages were changed and -y was used without --allow-change-held-packages.")
				return 100
			}
		}
		if !slices.ContainsFunc(todo, func(p Package) bool { return p.Name == name }) {
			todo = append(todo, pkg)
		}
	}
	var names []string
	for _, p := range todo {
		names = append(names, p.Name)
	}
	if len(todo) > 0 {
		sorted := slices.Sorted(slices.Values(names))
		fmt.Fprintf(c.Stdout, "The following NEW packages will be installed:\n  %s\n", strings.Join(sorted, " "))
	}
	fmt.Fprintf(c.Stdout, "0 upgraded, %d newly installed, 0 to remove and 0 not upgraded.\n", len(todo))
	// Half of an install's time is the download; apt-get killed then
	// leaves nothing. The other half is dpkg unpacking and configuring,
	// which writes its journal first: killed then (a session's SIGKILL,
	// which sshd sends to the whole process group), it leaves dpkg
	// interrupted, and every later apt-get install refuses until `dpkg
	// --configure -a` has run.
	half := time.Duration(len(todo)) * h.lab.opts.Latency.Install / 2
	if err := h.pause(ctx, half); err != nil {
		return 130
	}
	if len(todo) > 0 {
		if err := h.writeFile(dpkgJournal, []byte("Package: "+todo[0].Name+"\nStatus: install reinstreq half-installed\n"), 0o644); err != nil {
			fmt.Fprintf(c.Stderr, "dpkg: error: %s\n", describe(err))
			return 100
		}
	}
	if err := h.pause(ctx, half); err != nil {
		return 130
	}
	defer os.Remove(h.local("/", dpkgJournal))
	failed := false
	for _, p := range todo {
		fmt.Fprintf(c.Stdout, "Selecting previously unselected package %s.\nUnpacking %s (%s) ...\n", p.Name, p.Name, p.Version)
		if err := h.installVersion(p.Name, p.Version); err != nil {
			fmt.Fprintf(c.Stderr, "dpkg: error processing archive %s: %v\n", p.Name, err)
			failed = true
			continue
		}
		fmt.Fprintf(c.Stdout, "Setting up %s (%s) ...\n", p.Name, p.Version)
		for _, u := range p.Enable {
			fmt.Fprintf(c.Stdout, "Created symlink /etc/systemd/system/multi-user.target.wants/%s → /lib/systemd/system/%s.\n", u, u)
			if status := h.startUnit(ctx, c, u, false); status != 0 {
				fmt.Fprintf(c.Stderr, "invoke-rc.d: initscript %s, action \"start\" failed.\n", strings.TrimSuffix(u, ".service"))
				fmt.Fprintf(c.Stderr, "dpkg: error processing package %s (--configure):\n installed %s package post-installation script subprocess returned error exit status 1\n", p.Name, p.Name)
				failed = true
			}
		}
	}
	if failed {
		fmt.Fprintln(c.Stderr, "E: Sub-process /usr/bin/dpkg returned an error code (1)")
		return 100
	}
	return 0
}

// lockDpkg takes dpkg's frontend lock for apt-get, waiting up to timeout
// (apt's -o DPkg::Lock::Timeout) while another apt-get or cloud-init's
// upgrade holds it. It returns 0 with h.aptMu held, or apt's exit status
// after its messages.
func (h *Host) lockDpkg(ctx context.Context, c *Call, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	waited := false
	for {
		_, upgrading, pid := h.aptLocked()
		if !upgrading && h.aptMu.TryLock() {
			return 0
		}
		if pid == 0 {
			pid = h.pids.next()
		}
		if time.Now().Before(deadline) {
			if !waited {
				fmt.Fprintf(c.Stdout, "Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process %d (apt-get)...\n", pid)
				waited = true
			}
			if err := Pause(ctx, 100*time.Millisecond); err != nil {
				return 130
			}
			continue
		}
		fmt.Fprintf(c.Stderr, "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process %d (apt-get)\nN: Be aware that removing the lock file is not a solution and may break your system.\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?\n", pid)
		return 100
	}
}
