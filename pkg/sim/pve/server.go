package pve

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Server is a simulated Proxmox VE cluster answering on one loopback
// HTTPS address, as if every node's pveproxy were reachable there.
type Server struct {
	opts   Options
	clock  Clock
	logger *slog.Logger
	schema *Schema
	// builtin types configuration keys the loaded schema lacks.
	builtin *Schema
	routes  []*route

	cert    tls.Certificate
	leaf    *x509.Certificate
	srv     *http.Server
	ln      net.Listener
	baseURL string

	mu        sync.Mutex
	st        *state
	tokens    map[string]*tokenState
	faults    faults
	reqLog    []Request
	resources []resourceSnapshot
}

// New builds a server from opts; Start makes it listen.
func New(opts Options) (*Server, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("pve simulator options: %w", err)
	}
	s := &Server{opts: o, clock: o.Clock, logger: o.Logger, tokens: map[string]*tokenState{}}
	switch {
	case o.Schema != nil:
		s.schema = o.Schema
	case o.SchemaPath != "":
		if s.schema, err = LoadSchema(o.SchemaPath); err != nil {
			return nil, err
		}
	default:
		s.schema = BuiltinSchema()
	}
	s.builtin = BuiltinSchema()
	for _, t := range o.Tokens {
		s.tokens[t.ID] = newTokenState(t)
	}
	if s.st, err = newState(o, s.clock.Now()); err != nil {
		return nil, fmt.Errorf("pve simulator state: %w", err)
	}
	s.routes = buildRoutes()
	names := []string{"localhost"}
	for _, n := range o.Nodes {
		names = append(names, n.Name)
	}
	if s.cert, s.leaf, err = selfSignedCert(names); err != nil {
		return nil, err
	}
	s.recordResources(s.clock.Now())
	return s, nil
}

// Start listens on Options.Addr and serves until Close.
func (s *Server) Start() error {
	if s.srv != nil {
		return errors.New("pve simulator: already started")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("pve simulator: listen: %w", err)
	}
	s.ln = ln
	s.baseURL = "https://" + ln.Addr().String() + "/api2/json"
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12},
		// HTTP/1.1 only: errors are written on the hijacked connection.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     log.New(slogWriter{s.logger}, "", 0),
	}
	go func() {
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("pve simulator: serve", "err", err)
		}
	}()
	return nil
}

// Close stops the server and closes its connections.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	// At once, like a node that goes away: Shutdown would wait up to a
	// second for the clients' fresh keep-alive connections to go idle.
	return s.srv.Close()
}

// URL is the API base URL for go-proxmox's NewClient:
// https://127.0.0.1:<port>/api2/json.
func (s *Server) URL() string { return s.baseURL }

// Certificate is the server's self-signed certificate; it is its own CA.
func (s *Server) Certificate() *x509.Certificate { return s.leaf }

// CertPool holds the server's certificate, for WithRootCAs or a custom
// transport.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.leaf)
	return p
}

// Fingerprint is the SHA-256 fingerprint of the certificate in PVE's
// notation (colon-separated upper-case hex), as /nodes reports.
func (s *Server) Fingerprint() string {
	sum := sha256.Sum256(s.leaf.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// HTTPClient returns a client that trusts the server's certificate,
// for go-proxmox's WithHTTPClient.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   false,
			MaxIdleConnsPerHost: 16,
		},
	}
}

// Seed adds a guest, for tests that need guests homelab did not create
// (a "foreign" VM on a VMID the inventory wants, say).
func (s *Server) Seed(g Guest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.st.addGuest(g); err != nil {
		return fmt.Errorf("seed guest %d: %w", g.VMID, err)
	}
	now := s.clock.Now()
	if gs := s.st.guests[g.VMID]; gs.running {
		gs.startedAt, gs.agentAt = now, now
	}
	s.recordResources(now)
	return nil
}

// Guest returns a snapshot of a guest, with tasks settled to now.
func (s *Server) Guest(vmid int) (Guest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(s.clock.Now())
	g, ok := s.st.guests[vmid]
	if !ok {
		return Guest{}, false
	}
	return g.snapshot(), true
}

// Guests returns snapshots of every guest, templates included, by VMID.
func (s *Server) Guests() []Guest {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(s.clock.Now())
	out := make([]Guest, 0, len(s.st.guests))
	for _, g := range s.st.guests {
		out = append(out, g.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].VMID < out[j].VMID })
	return out
}

// Tasks returns every task started so far, oldest first.
func (s *Server) Tasks() []TaskInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(s.clock.Now())
	out := make([]TaskInfo, 0, len(s.st.order))
	for _, t := range s.st.order {
		out = append(out, t.info())
	}
	return out
}

// ServeHTTP serves one API request. The request is logged before its
// answer reaches the wire: a client that has its answer, or has seen its
// connection dropped, finds the request in Log.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	params, perr := readParams(r)
	rel := strings.TrimPrefix(r.URL.Path, "/api2/json")
	rec := Request{Method: r.Method, Path: rel, Params: redact(params)}
	ans := s.serve(r, rel, params, perr, &rec)
	rec.Status = ans.status()
	s.mu.Lock()
	s.reqLog = append(s.reqLog, rec)
	s.mu.Unlock()
	ans.write(w)
}

func (s *Server) serve(r *http.Request, rel string, params map[string]string, perr *apiError, rec *Request) answer {
	s.mu.Lock()
	now := s.clock.Now()
	rec.Time = now
	fault := s.faults.takeRequest(r.Method, rel)
	s.mu.Unlock()
	if fault != nil {
		if fault.Drop {
			return answer{drop: true}
		}
		return answer{err: &apiError{status: fault.Status, msg: fault.Message, errors: fault.Errors, noBody: fault.EmptyBody}}
	}
	tok, aerr := s.authenticate(r)
	if aerr != nil {
		s.delayUnauthorized(r.Context())
		return answer{err: aerr}
	}
	rec.Token = tok.id
	if !strings.HasPrefix(r.URL.Path, "/api2/json/") && r.URL.Path != "/api2/json" {
		return answer{err: notImplemented(r.Method, r.URL.Path)}
	}
	if perr != nil {
		return answer{err: perr}
	}
	rt, vars := matchRoute(s.routes, r.Method, rel)
	if rt == nil {
		return answer{err: notImplemented(r.Method, rel)}
	}
	for k, v := range vars {
		params[k] = v
	}
	data, aerr := s.dispatch(rt, &call{method: r.Method, path: rel, vars: vars, params: params, tok: tok, now: now})
	if aerr != nil {
		return answer{err: aerr}
	}
	return dataAnswer(data)
}

// dispatch runs checks in pveproxy's order (permissions, the node the
// request is proxied to, parameters) and then the handler, under the
// state lock.
func (s *Server) dispatch(rt *route, c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(c.now)
	c.st = s.st
	if rt.perms != nil {
		if err := authorize(c.tok, rt.perms(c)); err != nil {
			return nil, err
		}
	}
	if name, ok := c.vars["node"]; ok {
		n := s.st.node(name)
		if n == nil && reNodeName.MatchString(name) {
			return nil, fail("hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", name, name)
		}
		if n != nil && !n.online {
			return nil, &apiError{status: 595, msg: "Errors during connection establishment, proxy handshake: No route to host", noBody: true}
		}
	}
	errs, known := s.schema.validate(c.method, rt.tmpl, c.params)
	if !known {
		return nil, notImplemented(c.method, c.path)
	}
	if errs != nil {
		return nil, paramError(errs)
	}
	data, err := rt.handle(s, c)
	s.settle(c.now)
	if err == nil && isMutating(c.method) {
		s.recordResources(c.now)
	}
	return data, err
}

// call is one request being handled.
type call struct {
	method string
	path   string
	vars   map[string]string
	params map[string]string
	tok    *tokenState
	now    time.Time
	// st is the server's state while dispatch holds its lock, for the
	// checks that read it (a clone's source, a container's old NICs).
	st *state
}

// slogWriter sends net/http's own complaints (TLS handshakes of clients
// that hung up) to the logger at debug level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("pve simulator: http", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}
