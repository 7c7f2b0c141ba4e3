package host

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A VM made from a Debian 12 cloud image boots under the cloud-init
// configuration Proxmox VE generates (PVE/QemuServer/Cloudinit.pm):
//
//   - The image ships with /var/lib/apt/lists empty (debian-cloud-images'
//     final cleanup): `apt-get install` of anything not installed fails
//     with "Unable to locate package" until `apt-get update`.
//   - With `package_upgrade: true` in the user-data (PVE's ciupgrade,
//     1 by default since PVE 8.1) cloud-init runs `apt-get update` and
//     `apt-get dist-upgrade` once per instance, after sshd already
//     answers: meanwhile apt's locks are held and other apt-get calls fail
//     (or wait, with -o DPkg::Lock::Timeout=N). Its update fills the lists.
//   - `manage_etc_hosts: true` makes cloud-init render /etc/hosts from
//     /etc/cloud/templates/hosts.debian.tmpl on every boot: whatever else
//     was in /etc/hosts is gone; what is in the template stays.
//
// A container (LXC) does not run cloud-init: Spec.CloudInit is nil and its
// apt lists are as the template left them (populated, as the simulated
// hosts are seeded).

// CloudInit is what a VM's cloud-init drive says, read at every boot (see
// Spec.CloudInit).
type CloudInit struct {
	// Upgrade is `package_upgrade: true` in the user-data: PVE's
	// ciupgrade, which defaults to 1.
	Upgrade bool
	// Hostname and FQDN are what /etc/hosts' template is rendered with
	// (default: the host's name).
	Hostname, FQDN string
}

// Where cloud-init keeps its state and its hosts template.
const (
	cloudInstanceDir = "/var/lib/cloud/instance"
	upgradeSem       = cloudInstanceDir + "/sem/config_package_update_upgrade_install"
	bootFinished     = cloudInstanceDir + "/boot-finished"
	HostsTemplate    = "/etc/cloud/templates/hosts.debian.tmpl"
)

// defaultUpgradeTime is how long the first boot's upgrade holds apt's
// locks when LabOptions.FirstBootUpgrade is zero: a few minutes on a real
// lab with an image some months old.
const defaultUpgradeTime = 90 * time.Second

// hostsDebianTemplate is cloud-init's Debian template (22.4, as in
// bookworm's cloud-init package).
const hostsDebianTemplate = `## template:jinja
{#
This file (/etc/cloud/templates/hosts.debian.tmpl) is only utilized
if enabled in cloud-config.  Specifically, in order to enable it
you need to add the following to config:
   manage_etc_hosts: True
-#}
# Your system has configured 'manage_etc_hosts' as True.
# As a result, if you wish for changes to this file to persist
# then you will need to either
# a.) make changes to the master file in /etc/cloud/templates/hosts.debian.tmpl
# b.) change or remove the value of 'manage_etc_hosts' in
#     /etc/cloud/cloud.cfg or cloud-config from user-data
#
{# The value '{{hostname}}' will be replaced with the local-hostname -#}
127.0.1.1 {{fqdn}} {{hostname}}
127.0.0.1 localhost

# The following lines are desirable for IPv6 capable hosts
::1 localhost ip6-localhost ip6-loopback
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
`

// cloudInitState is cloud-init's run of the current boot.
type cloudInitState struct {
	mu       sync.Mutex
	running  bool      // an upgrade is under way
	listsEnd time.Time // its apt-get update holds the lists' lock until then
	end      time.Time // its dist-upgrade holds dpkg's lock until then
	pid      int       // its apt-get's process ID
}

// upgradeTime is how long a first boot's upgrade takes.
func (l *Lab) upgradeTime() time.Duration {
	if l.opts.FirstBootUpgrade > 0 {
		return l.opts.FirstBootUpgrade
	}
	return defaultUpgradeTime
}

// cloudInitBoot is cloud-init's part of a boot: the image's first boot
// empties the apt lists and installs cloud-init's files; every boot
// renders /etc/hosts; an upgrade not finished for this instance starts.
func (h *Host) cloudInitBoot() {
	if h.spec.CloudInit == nil {
		return
	}
	ci := h.spec.CloudInit()
	if ci.Hostname == "" {
		ci.Hostname = h.spec.Name
	}
	if ci.FQDN == "" {
		ci.FQDN = ci.Hostname
	}
	if _, err := os.Stat(h.local("/", cloudInstanceDir)); err != nil {
		// The cloud image's first boot: it came with empty lists.
		h.emptyLists()
		h.install("cloud-init")
		os.MkdirAll(h.local("/", cloudInstanceDir+"/sem"), 0o755)
	}
	if tmpl, err := h.readFile(HostsTemplate); err == nil {
		h.writeFile("/etc/hosts", []byte(renderHostsTemplate(string(tmpl), ci.Hostname, ci.FQDN)), 0o644)
	}
	s := &h.cloud
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := os.Stat(h.local("/", upgradeSem))
	if ci.Upgrade && err != nil {
		now := time.Now()
		d := h.lab.upgradeTime()
		s.running, s.listsEnd, s.end, s.pid = true, now.Add(d/4), now.Add(d), h.pids.next()
		return
	}
	s.running = false
	h.writeFile(bootFinished, []byte(time.Now().UTC().Format(time.RFC1123)+"\n"), 0o644)
}

// cloudInitOff interrupts an upgrade when the host goes off: it runs again
// at the next boot (its semaphore was not written).
func (h *Host) cloudInitOff() {
	h.settleCloudInit()
	h.cloud.mu.Lock()
	h.cloud.running = false
	h.cloud.mu.Unlock()
}

// settleCloudInit finishes an upgrade whose time is up: the lists its
// apt-get update fetched, its semaphore and boot-finished are written.
func (h *Host) settleCloudInit() {
	s := &h.cloud
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running || time.Now().Before(s.end) {
		return
	}
	s.running = false
	h.writeMirrorLists()
	h.writeFile(upgradeSem, []byte{}, 0o644)
	h.writeFile(bootFinished, []byte(time.Now().UTC().Format(time.RFC1123)+"\n"), 0o644)
}

// aptLocked reports who holds apt's locks for cloud-init now: the lists'
// lock (its apt-get update) and dpkg's frontend lock (the whole upgrade),
// with the holder's process ID.
func (h *Host) aptLocked() (lists, dpkg bool, pid int) {
	h.settleCloudInit()
	s := &h.cloud
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return false, false, 0
	}
	return time.Now().Before(s.listsEnd), true, s.pid
}

// cloudInitRunning reports whether cloud-init has not finished this boot.
func (h *Host) cloudInitRunning() bool {
	_, dpkg, _ := h.aptLocked()
	return dpkg
}

// mirrorLists are the files `apt-get update` leaves in /var/lib/apt/lists
// for Debian's own sources.
var mirrorLists = []string{
	"deb.debian.org_debian_dists_bookworm_InRelease",
	"deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
	"deb.debian.org_debian_dists_bookworm-updates_InRelease",
	"deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages",
	"deb.debian.org_debian-security_dists_bookworm-security_InRelease",
	"deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages",
}

// mirrorIndex is the list apt resolves Debian's packages from.
const mirrorIndex = "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"

// writeMirrorLists writes Debian's lists as `apt-get update` fetches them:
// the Packages index names every package of the simulated mirror.
func (h *Host) writeMirrorLists() {
	var idx strings.Builder
	for _, name := range slices.Sorted(maps.Keys(h.lab.packages)) {
		if p := h.lab.packages[name]; !p.External {
			fmt.Fprintf(&idx, "Package: %s\nVersion: %s\nArchitecture: amd64\n\n", p.Name, p.Version)
		}
	}
	for _, f := range mirrorLists {
		content := "Origin: Debian\nSuite: bookworm\n"
		if strings.HasSuffix(f, "_Packages") {
			content = ""
			if "/var/lib/apt/lists/"+f == mirrorIndex {
				content = idx.String()
			}
		}
		h.writeFile("/var/lib/apt/lists/"+f, []byte(content), 0o644)
	}
}

// emptyLists leaves /var/lib/apt/lists as debian-cloud-images ship it:
// the lock file and partial/, no lists.
func (h *Host) emptyLists() {
	entries, _ := os.ReadDir(h.local("/", "/var/lib/apt/lists"))
	for _, e := range entries {
		if e.Name() != "lock" && e.Name() != "partial" {
			os.RemoveAll(h.local("/", "/var/lib/apt/lists/"+e.Name()))
		}
	}
}

// mirrorListed reports whether apt has Debian's lists (apt-get update ran).
func (h *Host) mirrorListed() bool {
	_, err := os.Stat(h.local("/", mirrorIndex))
	return err == nil
}

var (
	jinjaComment  = regexp.MustCompile(`(?s)\{#.*?(-?)#\}\n?`)
	jinjaVariable = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)
)

// renderHostsTemplate renders cloud-init's hosts template as
// cc_update_etc_hosts does: the "## template:jinja" header dropped,
// comments removed (trim_blocks; "-#}" also eats the whitespace after),
// {{hostname}} and {{fqdn}} replaced; an unknown variable renders as
// cloud-init's CI_MISSING_JINJA_VAR/NAME.
func renderHostsTemplate(tmpl, hostname, fqdn string) string {
	if first, rest, ok := strings.Cut(tmpl, "\n"); ok && strings.TrimSpace(first) == "## template:jinja" {
		tmpl = rest
	}
	var out strings.Builder
	for {
		loc := jinjaComment.FindStringSubmatchIndex(tmpl)
		if loc == nil {
			out.WriteString(tmpl)
			break
		}
		out.WriteString(tmpl[:loc[0]])
		tmpl = tmpl[loc[1]:]
		if loc[3] > loc[2] { // "-#}": the whitespace after goes too
			tmpl = strings.TrimLeft(tmpl, " \t\n")
		}
	}
	return jinjaVariable.ReplaceAllStringFunc(out.String(), func(v string) string {
		switch name := jinjaVariable.FindStringSubmatch(v)[1]; name {
		case "hostname":
			return hostname
		case "fqdn":
			return fqdn
		default:
			return "CI_MISSING_JINJA_VAR/" + name
		}
	})
}

// cloudInitProgram is `cloud-init status [--wait] [--long]` as cloud-init
// 22.4 (Debian 12) answers: with --wait a dot every 0.25 s until cloud-init
// is done, then a newline; "status: running" or "status: done"; exit 0.
func cloudInitProgram(ctx context.Context, c *Call) int {
	args := c.Args[1:]
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprintln(c.Stderr, "usage: /usr/bin/cloud-init [-h] [--version] [--file FILES] [--debug] [--force]\n                           {init,modules,single,query,analyze,devel,collect-logs,clean,status,schema} ...")
		return 2
	}
	wait, long := false, false
	for _, a := range args[1:] {
		switch a {
		case "-w", "--wait":
			wait = true
		case "-l", "--long":
			long = true
		default:
			fmt.Fprintf(c.Stderr, "/usr/bin/cloud-init: error: unrecognized arguments: %s\n", a)
			return 2
		}
	}
	h := c.Host
	if wait {
		for h.cloudInitRunning() {
			fmt.Fprint(c.Stdout, ".")
			if err := Pause(ctx, 250*time.Millisecond); err != nil {
				return 130
			}
		}
		fmt.Fprintln(c.Stdout)
	}
	status := "done"
	if h.cloudInitRunning() {
		status = "running"
	}
	fmt.Fprintf(c.Stdout, "status: %s\n", status)
	if long {
		detail := "DataSourceNoCloud [seed=/dev/sr0][dsmode=net]"
		if status == "running" {
			detail = "Running in stage: modules-final"
		}
		fmt.Fprintf(c.Stdout, "detail:\n%s\n", detail)
	}
	return 0
}

// timeoutProgram is coreutils' `timeout [-k D] [-s SIG] DURATION COMMAND
// [ARG]...`: the command is ended when DURATION passes, and timeout exits
// 124.
func timeoutProgram(ctx context.Context, c *Call) int {
	args := c.Args[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		switch a := args[0]; {
		case a == "-k" || a == "-s" || a == "--kill-after" || a == "--signal":
			if len(args) < 2 {
				fmt.Fprintf(c.Stderr, "timeout: option requires an argument -- '%s'\nTry 'timeout --help' for more information.\n", strings.TrimLeft(a, "-"))
				return 125
			}
			args = args[2:]
		case a == "--foreground" || a == "--preserve-status" || a == "-v" || a == "--verbose" ||
			strings.HasPrefix(a, "--kill-after=") || strings.HasPrefix(a, "--signal="):
			args = args[1:]
		default:
			fmt.Fprintf(c.Stderr, "timeout: invalid option -- '%s'\nTry 'timeout --help' for more information.\n", strings.TrimLeft(a, "-"))
			return 125
		}
	}
	if len(args) < 2 {
		fmt.Fprintln(c.Stderr, "timeout: missing operand\nTry 'timeout --help' for more information.")
		return 125
	}
	d, ok := parseInterval(args[0])
	if !ok {
		fmt.Fprintf(c.Stderr, "timeout: invalid time interval '%s'\nTry 'timeout --help' for more information.\n", args[0])
		return 125
	}
	sub := c.with(args[1:])
	sub.Shell = "timeout"
	if d == 0 {
		return c.Host.exec(ctx, sub)
	}
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	status := c.Host.exec(tctx, sub)
	if ctx.Err() == nil && tctx.Err() != nil {
		return 124
	}
	return status
}

// parseInterval reads a duration as sleep and timeout take it: a number
// with an optional suffix s, m, h or d.
func parseInterval(s string) (time.Duration, bool) {
	unit := time.Second
	switch {
	case strings.HasSuffix(s, "s"):
		s = strings.TrimSuffix(s, "s")
	case strings.HasSuffix(s, "m"):
		s, unit = strings.TrimSuffix(s, "m"), time.Minute
	case strings.HasSuffix(s, "h"):
		s, unit = strings.TrimSuffix(s, "h"), time.Hour
	case strings.HasSuffix(s, "d"):
		s, unit = strings.TrimSuffix(s, "d"), 24*time.Hour
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}
