//go:build linux

// Package lab builds a small lab of real hosts on this machine for
// end-to-end tests (research/lab.md): network namespaces joined by a
// bridge; "full" hosts with their own mount, UTS and PID namespaces, an
// overlay of / so their /etc and /var are private, systemd as PID 1 and
// the real OpenSSH server; and "bare" hosts that are only a network
// namespace, for stub servers and clients a test runs in them.
//
// Full hosts can run real Kubernetes (research/lab.md, "Real Kubernetes in
// lab hosts"): each has a cgroup namespace rooted at a cgroup of its own in
// every v1 hierarchy, the kubelet's global sysctls shadowed by bind mounts
// so that the machine's values are never written, /var/lib/containerd and
// /var/lib/etcd on the machine's disk instead of the overlay, an /etc/hosts
// naming the lab's hosts, a resolv.conf pointing inside the lab and
// ip_forward on in its network namespace. The lab's bridge lives in a switch
// namespace of its own; the machine reaches the hosts through one veth into
// it (the gateway address, .1), which forwards nothing.
//
// It needs root on Linux with iproute2, unshare and OpenSSH installed;
// Available says what is missing. The lab uses only its own namespaces,
// cgroups and addresses, and Close removes all of it (processes,
// namespaces, cgroups, links, files), also after a failed test.
package lab

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed boot.sh
var bootScript []byte

// HostSpec is one host of the lab.
type HostSpec struct {
	Name string
	// Bare hosts are only a network namespace: no systemd, no sshd.
	Bare bool
}

// Options describe a lab.
type Options struct {
	// Prefix names the lab's namespaces and links (default "hl"); keep it
	// short: link names have 15 characters.
	Prefix string
	// Subnet is the lab's /24 (default 10.231.<pid%250>.0/24); the
	// machine's end of the lab takes .1 (every host's default gateway),
	// the switch's bridge .2 (the hosts' resolver: nothing answers there,
	// so lookups fail at once) and the hosts .11 upwards, in order.
	Subnet netip.Prefix
	Hosts  []HostSpec
	// Mask are systemd units not to start in full hosts (the machine's
	// databases and web servers, by default).
	Mask []string
	// Dir holds the lab's files (default a new temporary directory).
	Dir string
	// Hold is the machine's lab lock when the caller took it already
	// (Exclusive, before looking at the machine); the caller releases
	// it. Nil: Start waits for it and Close releases it.
	Hold *Hold
}

// Host is one running host.
type Host struct {
	Name string
	IP   netip.Addr
	Bare bool
	// NS is the host's network namespace.
	NS string
	// Cgroups are the host's cgroup directories on the machine, one per
	// hierarchy (the root of its cgroup namespace); nil for bare hosts.
	Cgroups []string
	// PID is the host's PID 1 (systemd) as this machine sees it; 0 for
	// bare hosts.
	PID int
	cmd *exec.Cmd
}

// Lab is a running lab.
type Lab struct {
	opts   Options
	bridge string // the machine's end of the lab (a veth into the switch)
	sw     string // the switch's network namespace, holding the bridge
	hosts  []*Host
	dir    string
	key    string
	cg     []hierarchy
	hold   *Hold // the lab lock Start took (nil: the caller's)
	ledger *ledger
}

// ShadowedSysctls are the global sysctls (not per namespace) that the
// kubelet sets when they differ from what it wants (its
// setupKernelTunables), with its values: inside full hosts a file holding
// the value is bound over each, so the kubelet finds them set and the
// machine's own are never written.
func ShadowedSysctls() map[string]string {
	return map[string]string{
		"vm.overcommit_memory":      "1",
		"vm.panic_on_oom":           "0",
		"kernel.panic":              "10",
		"kernel.panic_on_oops":      "1",
		"kernel.keys.root_maxkeys":  "1000000",
		"kernel.keys.root_maxbytes": "25000000",
	}
}

// DefaultMask lists the machine's services that full hosts do not start:
// its databases and web servers, and the desktop-session services (D-Bus,
// logind, polkit, PackageKit, which apt wakes through D-Bus, a getty, and
// the password agents' path units, each an inotify watch of its own).
// Besides memory, each of those holds inotify instances, and every root
// process on the machine shares one budget of them
// (fs.inotify.max_user_instances, 128 by default, a global sysctl the lab
// never changes): a lab of seven hosts with the desktop services ran out,
// and the last kubelets to start failed with "inotify_init: too many open
// files". systemctl, the kubelet's systemd cgroup driver and sshd work
// without them (systemd's private socket; pam_systemd is optional). A
// masked unit cannot be started at all, so what the code under test
// manages, such as HAProxy, stays unmasked.
func DefaultMask() []string {
	return []string{
		"postgresql.service", "redis-server.service", "nginx.service", "memcached.service", "e2scrub_reap.service",
		"dbus.service", "dbus.socket", "systemd-logind.service", "polkit.service", "packagekit.service", "getty@tty1.service",
		"systemd-ask-password-wall.path", "systemd-ask-password-console.path",
	}
}

// Available returns why a lab cannot run here, or nil.
func Available() error {
	if runtime.GOOS != "linux" {
		return errors.New("the lab needs Linux")
	}
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root (network namespaces, mounts)")
	}
	for _, bin := range []string{"ip", "unshare", "nsenter", "/usr/sbin/sshd", "ssh-keygen", "/lib/systemd/systemd"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("the lab needs %s: %w", bin, err)
		}
	}
	return nil
}

// Start builds the lab and waits until every full host's systemd runs and
// its sshd is active.
func Start(ctx context.Context, opts Options) (l *Lab, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = "hl"
	}
	if !opts.Subnet.IsValid() {
		opts.Subnet = netip.MustParsePrefix(fmt.Sprintf("10.231.%d.0/24", os.Getpid()%250))
	}
	if opts.Mask == nil {
		opts.Mask = DefaultMask()
	}
	l = &Lab{opts: opts, bridge: opts.Prefix + "br", sw: opts.Prefix + "-sw"}
	if opts.Hold == nil {
		if l.hold, err = Exclusive(ctx); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	if l.ledger, err = newLedger(); err != nil {
		return l, err
	}
	if l.dir = opts.Dir; l.dir == "" {
		if l.dir, err = os.MkdirTemp("", "homelab-lab-"); err != nil {
			return l, err
		}
		if err := l.ledger.dirs(l.dir); err != nil {
			return l, err
		}
	}
	l.key = filepath.Join(l.dir, "id_ed25519")
	if err := run(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", l.key); err != nil {
		return l, err
	}
	boot := filepath.Join(l.dir, "boot.sh")
	if err := os.WriteFile(boot, bootScript, 0o755); err != nil {
		return l, err
	}
	gw := opts.Subnet.Addr().Next()
	sw := netip.PrefixFrom(gw.Next(), opts.Subnet.Bits()).String()
	if err := errors.Join(l.ledger.netns(l.sw), l.ledger.links(l.bridge)); err != nil {
		return l, err
	}
	// Left by a lab that died before labs kept ledgers.
	exec.Command("ip", "link", "del", l.bridge).Run()
	exec.Command("ip", "netns", "del", l.sw).Run()
	if err := runAll(ctx,
		[]string{"ip", "netns", "add", l.sw},
		[]string{"ip", "netns", "exec", l.sw, "ip", "link", "add", "br0", "type", "bridge"},
		[]string{"ip", "netns", "exec", l.sw, "ip", "addr", "add", sw, "dev", "br0"},
		[]string{"ip", "netns", "exec", l.sw, "ip", "link", "set", "br0", "up"},
		[]string{"ip", "link", "add", l.bridge, "type", "veth", "peer", "name", "uplink", "netns", l.sw},
		[]string{"ip", "netns", "exec", l.sw, "ip", "link", "set", "uplink", "master", "br0", "up"},
		[]string{"ip", "addr", "add", netip.PrefixFrom(gw, opts.Subnet.Bits()).String(), "dev", l.bridge},
		[]string{"ip", "link", "set", l.bridge, "up"},
	); err != nil {
		return l, err
	}
	ip := opts.Subnet.Addr()
	for range 11 {
		ip = ip.Next()
	}
	hostsFile := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	for _, spec := range opts.Hosts {
		h := &Host{Name: spec.Name, IP: ip, Bare: spec.Bare, NS: fmt.Sprintf("%s-%s", opts.Prefix, spec.Name)}
		ip = ip.Next()
		l.hosts = append(l.hosts, h)
		hostsFile += fmt.Sprintf("%s\t%s\n", h.IP, h.Name)
	}
	if err := os.WriteFile(filepath.Join(l.dir, "hosts"), []byte(hostsFile), 0o644); err != nil {
		return l, err
	}
	for i, h := range l.hosts {
		if err := l.network(ctx, h, i); err != nil {
			return l, err
		}
		if !h.Bare {
			if err := l.boot(h, boot); err != nil {
				return l, err
			}
		}
	}
	for _, h := range l.hosts {
		if !h.Bare {
			if err := l.waitReady(ctx, h); err != nil {
				return l, err
			}
		}
	}
	return l, nil
}

func (l *Lab) veth(i int) string { return fmt.Sprintf("%sv%d", l.opts.Prefix, i) }

// network makes the host's namespace and joins it to the switch's bridge.
// A namespace of the same name left by a lab that died first is removed.
// ip_forward is on in the host's namespace (kubeadm's preflight wants it).
func (l *Lab) network(ctx context.Context, h *Host, i int) error {
	veth := l.veth(i)
	if err := l.ledger.netns(h.NS); err != nil {
		return err
	}
	exec.Command("ip", "netns", "del", h.NS).Run() // left by a lab that died before labs kept ledgers
	return runAll(ctx,
		[]string{"ip", "netns", "add", h.NS},
		[]string{"ip", "netns", "exec", l.sw, "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		[]string{"ip", "netns", "exec", l.sw, "ip", "link", "set", veth, "master", "br0", "up"},
		[]string{"ip", "netns", "exec", h.NS, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		[]string{"ip", "netns", "exec", h.NS, "ip", "addr", "add", netip.PrefixFrom(h.IP, l.opts.Subnet.Bits()).String(), "dev", "eth0"},
		[]string{"ip", "netns", "exec", h.NS, "ip", "link", "set", "eth0", "up"},
		[]string{"ip", "netns", "exec", h.NS, "ip", "link", "set", "lo", "up"},
		[]string{"ip", "netns", "exec", h.NS, "ip", "route", "add", "default", "via", l.opts.Subnet.Addr().Next().String()},
	)
}

// boot starts the host's PID 1 (boot.sh ends by exec-ing systemd) in its
// own cgroups.
func (l *Lab) boot(h *Host, script string) error {
	root := filepath.Join(l.dir, h.Name)
	state := filepath.Join(l.dir, h.Name+".state")
	for _, d := range []string{root, state} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	pub, err := os.ReadFile(l.key + ".pub")
	if err != nil {
		return err
	}
	if l.cg == nil {
		if l.cg, err = hierarchies(); err != nil {
			return fmt.Errorf("boot %s: %w", h.Name, err)
		}
		pc, err := procCgroups(l.cg)
		if err != nil {
			return fmt.Errorf("boot %s: %w", h.Name, err)
		}
		if err := os.WriteFile(filepath.Join(l.dir, "cgroups"), pc, 0o644); err != nil {
			return err
		}
	}
	h.Cgroups, err = makeCgroups(l.cg, "lab-"+h.NS)
	if err := errors.Join(err, l.ledger.cgroups(h.Cgroups...)); err != nil {
		return fmt.Errorf("boot %s: %w", h.Name, err)
	}
	var mounts, sysctls []string
	for _, hr := range l.cg {
		if !hr.v2 {
			mounts = append(mounts, filepath.Base(hr.mount)+":"+hr.options)
		}
	}
	shadow := ShadowedSysctls()
	for _, k := range sortedKeys(shadow) {
		sysctls = append(sysctls, k+"="+shadow[k])
	}
	args := append([]string{"enter", h.NS, h.Name, root, strings.TrimSpace(string(pub))}, l.opts.Mask...)
	h.cmd = exec.Command(script, args...)
	h.cmd.Env = append(os.Environ(),
		"LAB_CGROUPS="+strings.Join(h.Cgroups, " "),
		"LAB_CGMOUNTS="+strings.Join(mounts, " "),
		"LAB_STATE="+state,
		"LAB_HOSTS="+filepath.Join(l.dir, "hosts"),
		"LAB_DNS="+l.opts.Subnet.Addr().Next().Next().String(),
		"LAB_SYSCTLS="+strings.Join(sysctls, " "),
		"LAB_PROC_CGROUPS="+filepath.Join(l.dir, "cgroups"),
	)
	log, err := os.Create(filepath.Join(l.dir, h.Name+".log"))
	if err != nil {
		return err
	}
	h.cmd.Stdout, h.cmd.Stderr = log, log
	if err := h.cmd.Start(); err != nil {
		return fmt.Errorf("boot %s: %w", h.Name, err)
	}
	go func() { h.cmd.Wait(); log.Close() }()
	return nil
}

// waitReady finds the host's systemd and waits until it runs with sshd
// active.
func (l *Lab) waitReady(ctx context.Context, h *Host) error {
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if h.PID == 0 {
			h.PID = l.findPID(h)
		}
		if h.PID != 0 {
			out, _ := l.Exec(ctx, h.Name, "systemctl", "is-active", "ssh.service")
			last = strings.TrimSpace(string(out))
			if last == "active" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	logs, _ := os.ReadFile(filepath.Join(l.dir, h.Name+".log"))
	return fmt.Errorf("lab host %s: sshd not active after 60s (pid %d, last %q); boot log:\n%s", h.Name, h.PID, last, logs)
}

// findPID returns the PID of the systemd that runs as the host's PID 1:
// the child of unshare's fork, in the host's network namespace.
func (l *Lab) findPID(h *Host) int {
	if h.cmd == nil || h.cmd.Process == nil {
		return 0
	}
	// boot.sh execs ip netns exec, which execs unshare (same pid);
	// unshare forks the PID 1.
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", h.cmd.Process.Pid, h.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(children)) {
		pid, _ := strconv.Atoi(f)
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && strings.HasSuffix(exe, "systemd") {
			return pid
		}
	}
	return 0
}

// Hosts lists the lab's hosts in order.
func (l *Lab) Hosts() []*Host { return l.hosts }

// Host returns the host named name, or nil.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// KeyFile is the private key every full host accepts for root.
func (l *Lab) KeyFile() string { return l.key }

// Exec runs a command inside a host (all its namespaces for a full host,
// its network namespace for a bare one) and returns its combined output.
func (l *Lab) Exec(ctx context.Context, host string, argv ...string) ([]byte, error) {
	h := l.Host(host)
	if h == nil {
		return nil, fmt.Errorf("lab: no host %q", host)
	}
	var cmd *exec.Cmd
	if h.Bare {
		cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS}, argv...)...)
	} else {
		cmd = exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(h.PID), "-m", "-u", "-p", "-n", "-C", "-r", "-w"}, argv...)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("lab %s: %s: %w: %s", host, strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Command prepares a command to run in a bare host's network namespace
// (a stub server, a client), for the caller to start and stop.
func (l *Lab) Command(host string, argv ...string) (*exec.Cmd, error) {
	h := l.Host(host)
	if h == nil {
		return nil, fmt.Errorf("lab: no host %q", host)
	}
	return exec.Command("ip", append([]string{"netns", "exec", h.NS}, argv...)...), nil
}

// Close stops every host (SIGKILL to its PID 1 ends its PID namespace and
// with it the host's mounts), removes its cgroups (killing anything left
// in them), deletes the namespaces, links and files. It is safe to call
// twice.
func (l *Lab) Close() error {
	var errs []error
	for _, h := range l.hosts {
		if h.PID != 0 {
			killPID(h.PID)
		}
		if h.cmd != nil && h.cmd.Process != nil {
			h.cmd.Process.Kill()
		}
	}
	for _, h := range l.hosts {
		if err := removeCgroups(h.Cgroups, 30*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("host %s: %w", h.Name, err))
		}
		if err := exec.Command("ip", "netns", "del", h.NS).Run(); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete netns %s: %w", h.NS, err))
		}
		h.PID = 0
	}
	l.hosts = nil
	exec.Command("ip", "link", "del", l.bridge).Run()
	exec.Command("ip", "netns", "del", l.sw).Run()
	if l.dir != "" && l.opts.Dir == "" {
		// The hosts' mounts go with their mount namespaces, a moment
		// after their last process.
		var err error
		for range 50 {
			if err = os.RemoveAll(l.dir); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", l.dir, err))
		}
	}
	// What could not be removed stays in the ledger, for the next lab to
	// sweep.
	if len(errs) == 0 && l.ledger != nil {
		errs = append(errs, l.ledger.remove())
	}
	l.hold.Release()
	return errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func killPID(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

func run(ctx context.Context, argv ...string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func runAll(ctx context.Context, cmds ...[]string) error {
	for _, c := range cmds {
		if err := run(ctx, c...); err != nil {
			return err
		}
	}
	return nil
}
