// Package routeros is a RouterOS API simulator: it speaks the binary API
// protocol (length-prefixed words, sentences, .tag, !re !done !trap !fatal
// !empty) on a loopback TCP port to unmodified clients such as go-routeros,
// over an in-memory model of the menus homelab uses, with RouterOS's own
// error texts and faults a test can inject.
//
// It depends on nothing of homelab's: tools that import homelab can test
// against it too.
package routeros

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// Users maps user names to passwords; empty means admin with no password.
	Users map[string]string
	// TLS, when set, serves api-ssl instead of the plain API.
	TLS *tls.Config
	// Management is the router address API clients are taken to reach it
	// at (they really reach a loopback port); VLAN filtering that leaves no
	// path to it locks every client out. Default 192.168.88.1, the factory
	// address.
	Management netip.Addr
	// NoDefaults starts the router reset without its default configuration
	// (see NewEmptyRouter) instead of with it (see NewRouter).
	NoDefaults bool
}

// Server is a simulated router listening on loopback.
type Server struct {
	mu     sync.Mutex
	router *Router
	users  map[string]string
	tls    *tls.Config
	ln     net.Listener
	log    []string
	faults faults
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	mgmt   netip.Addr
	// lockedOut is set when the configuration cut the management path:
	// from then on every connection is dropped, as on a real router.
	lockedOut bool
}

// faults are what a test asked the server to do wrong.
type faults struct {
	traps      []injectedTrap
	dropAfter  int // close a connection after this many more sentences read; 0 = never
	silent     bool
	replyDelay time.Duration
}

type injectedTrap struct {
	prefix  string
	message string
}

// New returns a server over a router reset to its default configuration
// (or without it, with Options.NoDefaults).
func New(opts Options) *Server {
	users := opts.Users
	if len(users) == 0 {
		users = map[string]string{"admin": ""}
	}
	mgmt := opts.Management
	if !mgmt.IsValid() {
		mgmt = netip.MustParseAddr("192.168.88.1")
	}
	router := NewRouter()
	if opts.NoDefaults {
		router = NewEmptyRouter()
	}
	return &Server{router: router, users: users, tls: opts.TLS, conns: map[net.Conn]struct{}{}, mgmt: mgmt}
}

// Start listens on a free loopback port and serves until Close.
func (s *Server) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	return ln.Addr().String(), nil
}

// Addr returns the address Start listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening and drops every connection.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// Log returns every command sentence's first word received so far, with
// its arguments, one string per command ("/ip/address/add =address=...").
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// TrapNext makes the next command whose path starts with prefix fail with
// message (then !done), without touching the model.
func (s *Server) TrapNext(prefix, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.traps = append(s.faults.traps, injectedTrap{prefix: prefix, message: message})
}

// DropAfter closes the connection that reads the n-th sentence from now,
// after applying it and before answering.
func (s *Server) DropAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.dropAfter = n
}

// SetSilent makes the router stop answering (it still reads), as a router
// that hangs does.
func (s *Server) SetSilent(silent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.silent = silent
}

// SetReplyDelay delays every reply.
func (s *Server) SetReplyDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.replyDelay = d
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.lockedOut {
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// serve answers one connection's sentences in order.
func (s *Server) serve(c net.Conn) {
	r := bufio.NewReader(c)
	loggedIn := false
	for {
		words, err := readSentence(r)
		if err != nil {
			if errors.Is(err, errControlByte) {
				c.Write(encodeSentence("!fatal", "=message=invalid word length"))
			}
			return
		}
		tag := ""
		var cmd []string
		for _, w := range words {
			if t, ok := strings.CutPrefix(w, ".tag="); ok {
				tag = t
				continue
			}
			cmd = append(cmd, w)
		}
		if len(cmd) == 0 || !strings.HasPrefix(cmd[0], "/") {
			continue
		}
		rep, drop, silent, delay := s.handle(cmd, &loggedIn)
		if drop {
			return
		}
		if cmd[0] == "/quit" {
			// RouterOS ends the session with !fatal and a bare reason
			// word (research/routeros.md §1.2), then closes it.
			c.Write(encodeSentence("!fatal", "session terminated on request"))
			return
		}
		if silent {
			continue
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		var out []byte
		for _, sentence := range rep {
			if tag != "" {
				sentence = append(sentence, ".tag="+tag)
			}
			out = append(out, encodeSentence(sentence...)...)
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// handle runs one command under the lock and says how to answer.
func (s *Server) handle(cmd []string, loggedIn *bool) (rep reply, drop, silent bool, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	logged := cmd[0]
	for _, w := range cmd[1:] {
		if strings.HasPrefix(w, "=password=") {
			w = "=password=(redacted)"
		}
		logged += " " + w
	}
	s.log = append(s.log, logged)
	switch {
	case cmd[0] == "/quit":
	case cmd[0] == "/login":
		rep = s.login(cmd, loggedIn)
	case !*loggedIn:
		rep = trap(5, "not logged in")
	default:
		rep = s.injected(cmd[0])
		if rep == nil {
			before := len(s.router.filtering())
			rep = s.router.run(cmd)
			if !s.router.ManagementCovered(s.mgmt) {
				s.lockOut()
				return nil, true, false, 0
			}
			if len(s.router.filtering()) > before {
				// Turning filtering on re-forms the bridge: the session
				// drops even when the path stays open.
				return nil, true, false, 0
			}
		}
	}
	if s.faults.dropAfter > 0 {
		s.faults.dropAfter--
		if s.faults.dropAfter == 0 {
			return nil, true, false, 0
		}
	}
	return rep, false, s.faults.silent, s.faults.replyDelay
}

// lockOut drops every connection and refuses new ones. The caller holds
// the lock.
func (s *Server) lockOut() {
	s.lockedOut = true
	for c := range s.conns {
		c.Close()
	}
}

// LockedOut reports whether the configuration cut the API's management
// path, leaving the router reachable only from its console.
func (s *Server) LockedOut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lockedOut
}

// Console runs f on the router's configuration as someone at its serial
// console would, bypassing the API, and lifts a lock-out if f restored the
// management path. Tests use it to set up state the API cannot make, such
// as dynamic leases, or foreign entries.
func (s *Server) Console(f func(*Router)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.router)
	if s.router.ManagementCovered(s.mgmt) {
		s.lockedOut = false
	}
}

func (s *Server) injected(path string) reply {
	for i, t := range s.faults.traps {
		if strings.HasPrefix(path, t.prefix) {
			s.faults.traps = append(s.faults.traps[:i], s.faults.traps[i+1:]...)
			return trap(1, "%s", t.message)
		}
	}
	return nil
}

func (s *Server) login(cmd []string, loggedIn *bool) reply {
	c := parseCommand(cmd)
	want, ok := s.users[c.args["name"]]
	if !ok || want != c.args["password"] {
		return trap(0, "invalid user name or password (6)")
	}
	*loggedIn = true
	return done()
}

// Resolve answers a DNS query for name's A record as the router's DNS
// server does from /ip/dns/static for the router itself (its own
// resolver, which no firewall rule or setting stops): the first enabled
// entry with that name (case-insensitive) and an IPv4 address.
func (s *Server) Resolve(name string) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.router.resolve(name)
}

// ResolveFrom answers a DNS query for name's A record that a host at
// address from sends to the router, as the simulated hosts do (their
// nameserver is their gateway). As on a real router, the query is dropped
// (the host's resolution fails, as after a timeout) unless the router has
// an address on from's network, the input chain of /ip/firewall/filter
// accepts it on that interface (the default configuration drops all not
// coming from the LAN interface list), and /ip/dns allows remote
// requests. DNSDrop says why a query is dropped.
func (s *Server) ResolveFrom(from netip.Addr, name string) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.router.dnsDrop(from) != "" {
		return netip.Addr{}, false
	}
	return s.router.resolve(name)
}

// DNSDrop says why the router drops a DNS query from a host at address
// from, or returns "" when it answers.
func (s *Server) DNSDrop(from netip.Addr) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.router.dnsDrop(from)
}

func (r *Router) resolve(name string) (netip.Addr, bool) {
	m := r.menus["/ip/dns/static"]
	if m == nil {
		return netip.Addr{}, false
	}
	for _, it := range m.items {
		p := it.props
		if !strings.EqualFold(p["name"], name) || p["disabled"] == "true" || (p["type"] != "" && p["type"] != "A") {
			continue
		}
		if a, err := netip.ParseAddr(p["address"]); err == nil && a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}
