// Package lab builds a small lab of real hosts on this machine for
// end-to-end tests (research/lab.md): network namespaces joined by a
// bridge; "full" hosts with their own mount, UTS and PID namespaces, an
// overlay of / so their /etc and /var are private, systemd as PID 1 and
// the real OpenSSH server; and "bare" hosts that are only a network
// namespace, for stub servers and clients a test runs in them.
//
// It needs root on Linux with iproute2, unshare and OpenSSH installed;
// Available says what is missing. The lab uses only its own namespaces and
// addresses, and Close removes all of it, also after a failed test.
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
	// Subnet is the lab's /24 (default 10.231.<pid%250>.0/24); the bridge
	// takes .1 and the hosts .11 upwards, in order.
	Subnet netip.Prefix
	Hosts  []HostSpec
	// Mask are systemd units not to start in full hosts (the machine's
	// databases and web servers, by default).
	Mask []string
	// Dir holds the lab's files (default a new temporary directory).
	Dir string
}

// Host is one running host.
type Host struct {
	Name string
	IP   netip.Addr
	Bare bool
	// NS is the host's network namespace.
	NS string
	// PID is the host's PID 1 (systemd) as this machine sees it; 0 for
	// bare hosts.
	PID int
	cmd *exec.Cmd
}

// Lab is a running lab.
type Lab struct {
	opts   Options
	bridge string
	hosts  []*Host
	dir    string
	key    string
}

// DefaultMask lists the machine's services that full hosts do not start:
// its databases and web servers. (A masked unit cannot be started at all,
// so what the code under test manages, such as HAProxy, stays unmasked.)
func DefaultMask() []string {
	return []string{"postgresql.service", "redis-server.service", "nginx.service", "memcached.service", "e2scrub_reap.service"}
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
	l = &Lab{opts: opts, bridge: opts.Prefix + "br"}
	exec.Command("ip", "link", "del", l.bridge).Run() // left by a lab that died
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	if l.dir = opts.Dir; l.dir == "" {
		if l.dir, err = os.MkdirTemp("", "homelab-lab-"); err != nil {
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
	if err := runAll(ctx,
		[]string{"ip", "link", "add", l.bridge, "type", "bridge"},
		[]string{"ip", "addr", "add", netip.PrefixFrom(gw, opts.Subnet.Bits()).String(), "dev", l.bridge},
		[]string{"ip", "link", "set", l.bridge, "up"},
	); err != nil {
		return l, err
	}
	ip := opts.Subnet.Addr()
	for range 11 {
		ip = ip.Next()
	}
	for i, spec := range opts.Hosts {
		h := &Host{Name: spec.Name, IP: ip, Bare: spec.Bare, NS: fmt.Sprintf("%s-%s", opts.Prefix, spec.Name)}
		ip = ip.Next()
		l.hosts = append(l.hosts, h)
		if err := l.network(ctx, h, i); err != nil {
			return l, err
		}
		if !spec.Bare {
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

// network makes the host's namespace and joins it to the bridge. A link
// or namespace of the same name left by a lab that died first is removed.
func (l *Lab) network(ctx context.Context, h *Host, i int) error {
	veth := l.veth(i)
	exec.Command("ip", "link", "del", veth).Run()
	exec.Command("ip", "netns", "del", h.NS).Run()
	return runAll(ctx,
		[]string{"ip", "netns", "add", h.NS},
		[]string{"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		[]string{"ip", "link", "set", veth, "master", l.bridge, "up"},
		[]string{"ip", "netns", "exec", h.NS, "ip", "addr", "add", netip.PrefixFrom(h.IP, l.opts.Subnet.Bits()).String(), "dev", "eth0"},
		[]string{"ip", "netns", "exec", h.NS, "ip", "link", "set", "eth0", "up"},
		[]string{"ip", "netns", "exec", h.NS, "ip", "link", "set", "lo", "up"},
		[]string{"ip", "netns", "exec", h.NS, "ip", "route", "add", "default", "via", l.opts.Subnet.Addr().Next().String()},
	)
}

// boot starts the host's PID 1 (boot.sh ends by exec-ing systemd).
func (l *Lab) boot(h *Host, script string) error {
	root := filepath.Join(l.dir, h.Name)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	pub, err := os.ReadFile(l.key + ".pub")
	if err != nil {
		return err
	}
	args := append([]string{"netns", "exec", h.NS, "unshare", "--mount", "--uts", "--pid", "--fork", script, h.Name, root, strings.TrimSpace(string(pub))}, l.opts.Mask...)
	h.cmd = exec.Command("ip", args...)
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
	// ip netns exec execs unshare (same pid); unshare forks the PID 1.
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
		cmd = exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(h.PID), "-m", "-u", "-p", "-n", "-r", "-w"}, argv...)...)
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

// Close stops every host (SIGKILL to its PID 1 ends its PID namespace),
// deletes the namespaces, links and files. It is safe to call twice.
func (l *Lab) Close() error {
	var errs []error
	for i, h := range l.hosts {
		// Deleting the veth deletes its peer in the host at once; the
		// namespace itself may outlive ip netns del for a while.
		exec.Command("ip", "link", "del", l.veth(i)).Run()
		if h.PID != 0 {
			killPID(h.PID)
		}
		if h.cmd != nil && h.cmd.Process != nil {
			h.cmd.Process.Kill()
		}
		if err := exec.Command("ip", "netns", "del", h.NS).Run(); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete netns %s: %w", h.NS, err))
		}
		h.PID = 0
	}
	l.hosts = nil
	exec.Command("ip", "link", "del", l.bridge).Run()
	if l.dir != "" && l.opts.Dir == "" {
		os.RemoveAll(l.dir)
	}
	return errors.Join(errs...)
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
