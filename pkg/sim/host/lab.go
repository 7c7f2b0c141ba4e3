package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// LabOptions configure a Lab.
type LabOptions struct {
	// AuthorizedKeys may log in to every host, as any of its users.
	AuthorizedKeys []ssh.PublicKey
	// Dir holds the hosts' root directories (one per host, named after
	// it). A temporary directory, removed by Close, when empty. A Dir
	// that already holds a host's root keeps it: Add takes that host up
	// with its files, SSH host key, enabled units and file owners, and it
	// boots as after a reboot (see Lab.Save).
	Dir string
	// HAProxyBinary, when set, is a real haproxy that `haproxy -c` runs on
	// a copy of the config (its verdict and words, with the copy's path
	// replaced by the host path). Empty: the simulator's own structural
	// check.
	HAProxyBinary string
	// Programs are simulated programs added to (or replacing) the built-in
	// ones, by name. A program runs only where a package installed its
	// binary, see Packages.
	Programs map[string]Program
	// Packages are added to (or replace, by name) the packages apt-get can
	// install.
	Packages []Package
	// Internet answers the hosts' requests to names outside the lab (that
	// no /etc/hosts line gives), by host name: curl of an https:// URL and
	// apt-get update of a third-party repository reach these handlers.
	Internet map[string]http.Handler
	// DNS answers the names /etc/hosts does not (nsswitch's "files dns"),
	// asked by the host at address from: the router's DNS in the simulated
	// lab, which may drop the query (false). Nil: no DNS.
	DNS func(from netip.Addr, name string) (netip.Addr, bool)
	// Latency is how long apt takes; zero is instant.
	Latency Latency
	// FirstBootUpgrade is how long the package upgrade of a cloud image's
	// first boot holds apt's locks after sshd answers, on hosts whose
	// Spec.CloudInit asks for it (zero: 90 s, as on a real lab).
	FirstBootUpgrade time.Duration
	// StrictBackends reports HAProxy backend servers that nothing serves
	// (see Host.Serve) as DOWN, L4CON, as HAProxy would. By default they
	// are UP, their check passed: the simulated lab has no real services
	// behind its load balancers.
	StrictBackends bool
	// VRRPScale scales keepalived's timers: a backup becomes master after
	// hearing no master for three advertisement intervals plus a skew
	// (about 3.5s). Zero means 1 (real time); tests use less.
	VRRPScale float64
	// Wiped, when set, is told of each host whose disk was made blank for
	// a machine (Spec.Instance): at its first boot as that machine, before
	// it boots. Whatever a simulator keeps about the host outside its
	// files (a cluster's member, its node) went with the old disk.
	Wiped func(h *Host)
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Spec describes one host of a Lab.
type Spec struct {
	// Name is the host name (`hostname` prints it).
	Name string
	// Address is the host's address on its network, with the network's
	// prefix length, e.g. 10.10.10.31/24.
	Address netip.Prefix
	// Gateway is the default route's next hop, if any.
	Gateway netip.Addr
	// Interface is the name of the host's network interface (default
	// "eth0").
	Interface string
	// Users are login users besides root, each with a home directory and
	// passwordless sudo (as a cloud image's default user).
	Users []string
	// SSHPort is the port the host's SSH server answers on at Address
	// (default 22); see Lab.Address.
	SSHPort int
	// Power says whether the host is running; nil means always. While it
	// is off, SSH is refused and it holds no VIP; when it comes back its
	// enabled units start again.
	Power func() bool
	// Packages are installed when the host is created, besides the base
	// system.
	Packages []string
	// CloudInit, when set, makes the host a VM booted from a Debian 12
	// cloud image under PVE's cloud-init, which it asks at every boot:
	// empty apt lists at the first boot, the upgrade CloudInit.Upgrade
	// asks for, /etc/hosts rendered from its template (see cloudinit.go).
	// Nil: no cloud-init (a container, or a host made by hand).
	CloudInit func() CloudInit
	// Instance names the machine the host is: the ID of the guest that
	// plays it and the SSH host key (OpenSSH PEM) its disk holds, as
	// pkg/sim/pve's Guest.Instance and Guest.HostKey give them. When the
	// host powers on as another instance than its disk belongs to (the
	// guest was destroyed and created again), its disk is blank again and
	// it presents the new key (a nil key: one of its own). Nil, or an
	// empty ID: the host keeps its disk.
	Instance func() (id string, hostKey []byte)
	// CgroupV1 boots the host with the legacy cgroup v1 hierarchy (a
	// kernel booted with systemd.unified_cgroup_hierarchy=0, or a
	// container on such a machine): /sys/fs/cgroup holds one directory per
	// controller and no cgroup.controllers. False: the unified cgroup v2
	// hierarchy of Debian 12 and 13, with /sys/fs/cgroup/cgroup.controllers.
	CgroupV1 bool
}

// Latency are the durations apt-get sleeps (ended by its context), for
// benchmarks that model a real rebuild.
type Latency struct {
	// Update is one apt-get update.
	Update time.Duration
	// Install is one package downloaded, unpacked and configured.
	Install time.Duration
	// Spent, when set, is told every pause apt-get takes (the host's name
	// and the modelled duration), before it sleeps: a benchmark bounds a
	// run by the work the latency model gives it.
	Spent func(host string, d time.Duration)
}

// pause sleeps the modelled duration d of one of h's programs (see
// Pause) and tells Latency.Spent.
func (h *Host) pause(ctx context.Context, d time.Duration) error {
	if spent := h.lab.opts.Latency.Spent; spent != nil && d > 0 {
		spent(h.spec.Name, d)
	}
	return Pause(ctx, d)
}

// Pause sleeps d or until ctx ends, and reports ctx's error if it ended:
// a simulated program's latency, cut short as the real one would be.
func Pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Lab is a network of simulated hosts. Its methods are safe for
// concurrent use.
type Lab struct {
	opts     LabOptions
	log      *slog.Logger
	dir      string
	tmpDir   bool
	packages map[string]Package
	programs map[string]Program

	mu    sync.Mutex
	hosts []*Host
	// byName and byAddr index hosts (the first added, should two share a
	// name or an address): every SSH dial and every simulated packet
	// looks a host up, and a lab of 1,000 guests made that quadratic.
	byName map[string]*Host
	byAddr map[netip.Addr]*Host
	closed bool

	// refreshMu serialises VRRP elections; vrrp is their memory: per
	// virtual router ID and host, its state (see vrrp.go).
	refreshMu sync.Mutex
	vrrp      map[int]map[string]*vrrpState
	// restored are the VRRP masters a host taken up from Dir was, per
	// virtual router ID: it is MASTER again when its keepalived first
	// takes part (see persist.go).
	restored map[int]map[string]bool
}

// NewLab returns an empty lab.
func NewLab(opts LabOptions) (*Lab, error) {
	l := &Lab{opts: opts, log: opts.Logger, vrrp: map[int]map[string]*vrrpState{}, restored: map[int]map[string]bool{}}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.dir = opts.Dir
	if l.dir == "" {
		dir, err := os.MkdirTemp("", "homelab-sim-hosts-")
		if err != nil {
			return nil, fmt.Errorf("simulated hosts: %w", err)
		}
		l.dir, l.tmpDir = dir, true
	}
	l.packages = map[string]Package{}
	for _, p := range catalogue() {
		l.packages[p.Name] = p
	}
	for _, p := range opts.Packages {
		l.packages[p.Name] = p
	}
	l.programs = builtinPrograms()
	for name, p := range opts.Programs {
		l.programs[name] = p
	}
	return l, nil
}

// Add creates a host from spec and starts its SSH server. When Dir
// already holds a root made for spec.Name, the host keeps its files and
// its SSH host key instead of being seeded afresh; it boots (its enabled
// units start) when its power is first seen on.
func (l *Lab) Add(spec Spec) (*Host, error) {
	if spec.Name == "" || !spec.Address.IsValid() {
		return nil, fmt.Errorf("simulated host %q: a name and an address (with its prefix length) are needed", spec.Name)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("simulated host %s: the lab is closed", spec.Name)
	}
	for _, h := range []*Host{l.byName[spec.Name], l.byAddr[spec.Address.Addr()]} {
		if h != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("simulated host %s: name or address %s already taken by %s", spec.Name, spec.Address.Addr(), h.spec.Name)
		}
	}
	l.mu.Unlock()
	h, err := newHost(l, spec, filepath.Join(l.dir, spec.Name))
	if err != nil {
		return nil, fmt.Errorf("simulated host %s: %w", spec.Name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		h.close()
		return nil, fmt.Errorf("simulated host %s: the lab is closed", spec.Name)
	}
	l.hosts = append(l.hosts, h)
	if l.byName == nil {
		l.byName, l.byAddr = map[string]*Host{}, map[netip.Addr]*Host{}
	}
	if _, ok := l.byName[spec.Name]; !ok {
		l.byName[spec.Name] = h
	}
	if _, ok := l.byAddr[spec.Address.Addr()]; !ok {
		l.byAddr[spec.Address.Addr()] = h
	}
	return h, nil
}

// Host returns the host named name.
func (l *Lab) Host(name string) (*Host, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.byName[name]
	return h, ok
}

// Hosts returns the hosts in the order they were added.
func (l *Lab) Hosts() []*Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.hosts)
}

// byAddress returns the host whose own address is a.
func (l *Lab) byAddress(a netip.Addr) (*Host, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.byAddr[a]
	return h, ok
}

// Address returns the loopback address where the SSH server of the host
// at ap (its address and SSH port) answers, for dialling it.
func (l *Lab) Address(ap netip.AddrPort) (string, bool) {
	h, ok := l.byAddress(ap.Addr())
	if !ok || int(ap.Port()) != h.sshPort() {
		return "", false
	}
	return h.Addr(), true
}

// Dial reaches a host's SSH port by the host's address (as a proxmox.Dialer
// or net.Dialer.DialContext would): "connection refused" while the host is
// off or for any other address or port, as a booting or absent guest
// answers.
func (l *Lab) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	refused := &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	local, ok := l.Address(ap)
	if !ok {
		return nil, refused
	}
	h, _ := l.byAddress(ap.Addr())
	if !h.powered() {
		return nil, refused
	}
	var d net.Dialer
	return d.DialContext(ctx, network, local)
}

// Holders returns the hosts that hold vip on their interface now (after
// an election on the current state: see package doc).
func (l *Lab) Holders(ctx context.Context, vip netip.Addr) []string {
	l.elect(ctx)
	var out []string
	for _, h := range l.Hosts() {
		if slices.Contains(h.vips(), vip) {
			out = append(out, h.spec.Name)
		}
	}
	return out
}

// Close stops every host, and removes a temporary Dir or saves the hosts'
// state in the one given (see Save).
func (l *Lab) Close() error {
	l.mu.Lock()
	l.closed = true
	hosts := l.hosts
	l.hosts, l.byName, l.byAddr = nil, nil, nil
	l.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		errs = append(errs, h.close())
		if !l.tmpDir {
			errs = append(errs, h.save())
		}
	}
	if l.tmpDir {
		errs = append(errs, os.RemoveAll(l.dir))
	}
	return errors.Join(errs...)
}
