package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/sim/sshd"
)

// Host is one simulated Debian host. Its methods are safe for concurrent
// use.
type Host struct {
	lab  *Lab
	spec Spec
	root string
	srv  *sshd.Server
	ln   net.Listener // the SSH port as dialled: gated by power
	wg   sync.WaitGroup

	// powerMu serialises power transitions (boot runs units); dbMu the
	// read-modify-writes of /etc/passwd, /etc/group and dpkg's status.
	powerMu sync.Mutex
	dbMu    sync.Mutex
	aptMu   sync.Mutex // dpkg's frontend lock
	cloud   cloudInitState

	mu         sync.Mutex
	on         bool // the power state last seen
	closed     bool
	conns      map[net.Conn]struct{}
	units      map[string]*unit
	sysctl     map[string]string
	owners     sshd.Owners    // the owners chown and users gave to files
	held       []netip.Prefix // VIPs on the interface
	haproxy    *haproxyConfig // the running HAProxy's config, nil when stopped
	keepalived *keepalivedConfig
	services   map[uint16]http.Handler
	certs      map[uint16][]byte // PEM certificates of the TLS services
	pids       pids              // process IDs for messages
	instance   string            // the Spec.Instance ID it runs as ("" before its first boot as one)
}

func newHost(l *Lab, spec Spec, root string) (*Host, error) {
	if spec.Interface == "" {
		spec.Interface = "eth0"
	}
	h := &Host{lab: l, spec: spec, root: root, conns: map[net.Conn]struct{}{},
		units: map[string]*unit{}, sysctl: map[string]string{}, services: map[uint16]http.Handler{}, certs: map[uint16][]byte{}}
	reopened := seeded(root)
	if reopened {
		// A host made before, in a lab opened again: its files stay and
		// it boots as after a reboot.
		if err := h.restore(); err != nil {
			return nil, fmt.Errorf("take up the root %s: %w", root, err)
		}
	} else {
		if err := os.RemoveAll(root); err != nil {
			return nil, err
		}
		if err := h.seed(); err != nil {
			return nil, fmt.Errorf("seed the root: %w", err)
		}
	}
	for _, p := range spec.Packages {
		if reopened && h.Installed(p) {
			continue // at the version it has
		}
		if err := h.install(p); err != nil {
			return nil, err
		}
	}
	key, err := h.hostKey()
	if err != nil {
		return nil, err
	}
	srv, err := sshd.New(sshd.Options{AuthorizedKeys: l.opts.AuthorizedKeys, HostKey: key, Root: root, Logger: l.log,
		Handler: func(ctx context.Context, s sshd.Session) int {
			return h.Run(ctx, s.User, s.Command, s.Stdin, s.Stdout, s.Stderr)
		}})
	if err != nil {
		return nil, err
	}
	h.srv = srv
	if h.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		srv.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	h.wg.Add(1)
	go h.accept()
	return h, nil
}

// Name is the host's name.
func (h *Host) Name() string { return h.spec.Name }

// IP is the host's own address.
func (h *Host) IP() netip.Addr { return h.spec.Address.Addr() }

// Addr is the loopback address (host:port) where the host's SSH server
// answers while the host is on.
func (h *Host) Addr() string { return h.ln.Addr().String() }

// Root is the local directory that holds the host's file system.
func (h *Host) Root() string { return h.root }

// HostKey is the SSH server's host key.
func (h *Host) HostKey() ssh.PublicKey { return h.srv.HostKey() }

// SSH is the host's SSH server, for its faults (sshd.Server.DropNextExec,
// RotateHostKey...) and its command log.
func (h *Host) SSH() *sshd.Server { return h.srv }

func (h *Host) sshPort() int {
	if h.spec.SSHPort == 0 {
		return 22
	}
	return h.spec.SSHPort
}

// Serve makes handler answer HTTP (and, for curl, HTTPS) on port of the
// host's address, as a service running on it would: curl and HAProxy's
// backend checks reach it. A nil handler stops serving.
func (h *Host) Serve(port uint16, handler http.Handler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.certs, port)
	if handler == nil {
		delete(h.services, port)
		return
	}
	h.services[port] = handler
}

// ServeTLS is Serve for a service that answers TLS with the certificate
// (chain) certPEM: curl verifies it against its --cacert, by the name it
// asked for, and Request returns it.
func (h *Host) ServeTLS(port uint16, handler http.Handler, certPEM []byte) {
	h.Serve(port, handler)
	if handler != nil {
		h.mu.Lock()
		h.certs[port] = certPEM
		h.mu.Unlock()
	}
}

// Serving reports whether something serves port on the host (see Serve):
// a program's "port in use".
func (h *Host) Serving(port uint16) bool { return h.service(port) != nil }

func (h *Host) cert(port uint16) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.certs[port]
}

func (h *Host) service(port uint16) http.Handler {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.services[port]
}

// vips returns the VIPs on the host's interface.
func (h *Host) vips() []netip.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []netip.Addr
	for _, p := range h.held {
		out = append(out, p.Addr())
	}
	return out
}

// powered reports whether the host is on, and carries out a change of
// power since the last look: off drops the SSH connections and stops every
// unit; on boots (sysctl.d applied, enabled units started).
func (h *Host) powered() bool {
	on := h.spec.Power == nil || h.spec.Power()
	h.powerMu.Lock()
	defer h.powerMu.Unlock()
	// A guest destroyed and created again while nobody looked went off
	// and on again meanwhile, as another machine.
	recreated := on && h.recreated()
	h.mu.Lock()
	was := h.on
	h.on = on
	if recreated {
		was = true
	}
	var conns []net.Conn
	if was && (!on || recreated) {
		for c := range h.conns {
			conns = append(conns, c)
		}
		for _, u := range h.units {
			u.active, u.failed = false, false
		}
		h.haproxy, h.keepalived, h.held = nil, nil, nil
		h.sysctl = map[string]string{}
	}
	h.mu.Unlock()
	if was && !on {
		h.cloudInitOff()
	}
	for _, c := range conns {
		c.Close()
	}
	if on && (!was || recreated) {
		if err := h.reinstance(); err != nil {
			h.lab.log.Error("simulated host: a new machine", "host", h.spec.Name, "err", err)
		}
		h.boot()
	}
	return on
}

// accept serves the SSH port: while the host is off a connection is
// closed at once, else it is joined to the SSH server.
func (h *Host) accept() {
	defer h.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		if !h.powered() {
			c.Close()
			continue
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			c.Close()
			return
		}
		h.conns[c] = struct{}{}
		h.mu.Unlock()
		h.wg.Go(func() {
			h.join(c)
			h.mu.Lock()
			delete(h.conns, c)
			h.mu.Unlock()
		})
	}
}

// join copies between the dialled connection and the SSH server.
func (h *Host) join(c net.Conn) {
	defer c.Close()
	var d net.Dialer
	s, err := d.Dial("tcp", h.srv.Addr())
	if err != nil {
		return
	}
	defer s.Close()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(s, c)
	go cp(c, s)
	<-done
	// One direction ended: the other ends when either side closes.
	c.Close()
	s.Close()
	<-done
}

func (h *Host) close() error {
	h.mu.Lock()
	h.closed = true
	conns := make([]net.Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	err := h.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	h.wg.Wait()
	if e := h.srv.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
		err = errors.Join(err, e)
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Run runs a command line on the host as user would over SSH: through the
// user's login shell (`bash -c COMMAND` on Debian), in the user's home
// directory. It returns the exit status. After the command the lab's VRRP
// elections are brought up to date.
func (h *Host) Run(ctx context.Context, user, command string, stdin io.Reader, stdout, stderr io.Writer) int {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	if !h.powered() {
		return 255 // the host went off: its connections are dropped
	}
	acct, ok := h.account(user)
	if !ok {
		fmt.Fprintf(stderr, "Invalid user %s\n", user)
		return 255
	}
	if stdin == nil {
		stdin = eofReader{}
	}
	c := &Call{Host: h, Args: []string{acct.shell, "-c", command}, Env: loginEnv(acct), Dir: acct.home, User: user,
		Shell: "sshd", Stdin: stdin, Stdout: stdout, Stderr: stderr}
	status := h.exec(ctx, c)
	if !inElection(ctx) {
		h.lab.elect(ctx)
	}
	return status
}

// Installed reports whether package pkg is installed.
func (h *Host) Installed(pkg string) bool {
	db, err := h.packageDB()
	if err != nil {
		return false
	}
	return db.installed(pkg)
}

// UnitState is what systemd knows of a unit.
type UnitState struct {
	Known, Enabled, Active, Failed bool
}

// Unit returns the state of a systemd unit ("haproxy" or
// "haproxy.service").
func (h *Host) Unit(name string) UnitState {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.units[unitName(name)]
	if !ok {
		return UnitState{}
	}
	return UnitState{Known: true, Enabled: u.enabled, Active: u.active, Failed: u.failed}
}

// Sysctl returns the kernel parameter key as `sysctl -n` prints it.
func (h *Host) Sysctl(key string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sysctlLocked(key)
}

func (h *Host) sysctlLocked(key string) string {
	if v, ok := h.sysctl[key]; ok {
		return v
	}
	v, _ := sysctlDefault(key)
	return v
}

// VIPs returns the addresses the host holds besides its own.
func (h *Host) VIPs() []netip.Addr { return slices.Clone(h.vips()) }
