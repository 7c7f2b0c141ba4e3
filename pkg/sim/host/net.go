package host

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
)

// route returns the host that answers for address a as seen from h: h
// itself for loopback, the host with that address, or the holder of a
// VIP (nil when none).
func (l *Lab) route(h *Host, a netip.Addr) *Host {
	if a.IsLoopback() {
		return h
	}
	if t, ok := l.byAddress(a); ok {
		return t
	}
	for _, t := range l.Hosts() {
		for _, v := range t.vips() {
			if v == a {
				return t
			}
		}
	}
	return nil
}

// httpResult is how a simulated HTTP exchange ended.
type httpResult struct {
	status int
	body   []byte
	// fail is a connection failure: "refused", "unreachable" or "reset".
	fail string
	// cert is the PEM certificate of a TLS service that answered.
	cert []byte
}

// serve asks the service on target's port.
func (l *Lab) serve(ctx context.Context, from, target *Host, port uint16, method, path string, body io.Reader) httpResult {
	handler := target.service(port)
	if handler == nil {
		return httpResult{fail: "refused"}
	}
	req := httptest.NewRequest(method, path, body).WithContext(ctx)
	req.RemoteAddr = netip.AddrPortFrom(from.IP(), 40000).String()
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	return httpResult{status: rec.Code, body: rec.Body.Bytes(), cert: target.cert(port)}
}

// request makes an HTTP request from host from to addr: through HAProxy
// when a frontend of the host that answers binds it (its monitor URI, its
// stats page, or on to a backend server), else to a service on the host.
func (l *Lab) request(ctx context.Context, from *Host, addr netip.AddrPort, method, path string, body io.Reader, depth int) httpResult {
	target := l.route(from, addr.Addr())
	if target == nil || !target.powered() || depth > 4 {
		return httpResult{fail: "unreachable"}
	}
	if cfg := target.running(); cfg != nil {
		for _, px := range cfg.proxies {
			if !px.frontend() || !binds(px, addr) {
				continue
			}
			p, _, _ := strings.Cut(path, "?")
			switch {
			case px.monitorURI != "" && p == px.monitorURI:
				return httpResult{status: 200, body: []byte("<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n")}
			case px.stats && strings.HasPrefix(path, px.statsURI):
				if strings.Contains(strings.TrimPrefix(path, px.statsURI), ";csv") {
					return httpResult{status: 200, body: l.statsCSV(ctx, target, cfg)}
				}
				return httpResult{status: 200, body: []byte("<html><head><title>Statistics Report for HAProxy</title></head><body></body></html>\n")}
			}
			backend := px
			if px.kind == "frontend" {
				backend = nil
				for _, b := range cfg.proxies {
					if b.backend() && b.name == px.defaultBackend {
						backend = b
					}
				}
			}
			if backend != nil {
				for _, s := range backend.servers {
					if l.serverHealth(ctx, target, backend, s).up() {
						if res := l.request(ctx, target, s.addr, method, path, body, depth+1); res.fail == "" {
							return res
						}
					}
				}
			}
			if px.mode == "http" {
				return httpResult{status: 503, body: []byte("<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n")}
			}
			return httpResult{fail: "reset"}
		}
	}
	if addr.Addr() == target.IP() || addr.Addr().IsLoopback() {
		return l.serve(ctx, from, target, addr.Port(), method, path, body)
	}
	return httpResult{fail: "refused"}
}

// binds reports whether a frontend listens on addr.
func binds(px *haproxyProxy, addr netip.AddrPort) bool {
	for _, b := range px.binds {
		if b.port == addr.Port() && (!b.addr.IsValid() || b.addr == addr.Addr()) {
			return true
		}
	}
	return false
}

// resolve looks a host name up in h's /etc/hosts, then in the lab's DNS.
func (h *Host) resolve(name string) (netip.Addr, bool) {
	if a, ok := h.resolveFile(name); ok || h.lab.opts.DNS == nil {
		return a, ok
	}
	return h.lab.opts.DNS(h.IP(), name)
}

// resolveFile looks a host name up in h's /etc/hosts.
func (h *Host) resolveFile(name string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return a, true
	}
	b, _ := h.readFile("/etc/hosts")
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		for _, n := range f[min(1, len(f)):] {
			if n == name {
				if a, err := netip.ParseAddr(f[0]); err == nil && a.Is4() {
					return a, true
				}
			}
		}
	}
	return netip.Addr{}, false
}

// socat is `socat STDIO UNIX-CONNECT:PATH` to HAProxy's admin socket:
// "show stat" answers the stats CSV, "show info" a few lines.
func socat(ctx context.Context, c *Call) int {
	var sock string
	for _, a := range c.Args[1:] {
		if v, ok := strings.CutPrefix(strings.ToLower(a), "unix-connect:"); ok {
			sock = a[len(a)-len(v):]
		}
	}
	pid := c.Host.pids.next()
	if sock == "" {
		fmt.Fprintf(c.Stderr, "socat[%d] E exactly 2 addresses required (there are %d); use option \"-h\" for help\n", pid, len(c.Args)-1)
		return 1
	}
	cfg := c.Host.running()
	listening := cfg != nil
	if listening {
		listening = false
		for _, s := range cfg.sockets {
			listening = listening || s == c.Path(sock)
		}
	}
	if !listening {
		fmt.Fprintf(c.Stderr, "socat[%d] E connect(5, AF=1 \"%s\", %d): No such file or directory\n", pid, sock, len(sock)+3)
		return 1
	}
	if !c.Root() && !c.Host.knownGroupMember(c.User, "haproxy") {
		fmt.Fprintf(c.Stderr, "socat[%d] E connect(5, AF=1 \"%s\", %d): Permission denied\n", pid, sock, len(sock)+3)
		return 1
	}
	s := bufio.NewScanner(c.Stdin)
	for s.Scan() {
		switch cmd := strings.TrimSpace(s.Text()); cmd {
		case "show stat":
			c.Stdout.Write(c.Host.lab.statsCSV(ctx, c.Host, cfg))
			fmt.Fprintln(c.Stdout)
		case "show info":
			fmt.Fprintf(c.Stdout, "Name: HAProxy\nVersion: 2.6.12-1+deb12u1\nRelease_date: 2023/12/16\nNbthread: 1\nPid: %d\n\n", pid)
		case "":
		default:
			fmt.Fprint(c.Stdout, "Unknown command. Please enter one of the following commands only :\n  help           : full list of commands\n\n")
		}
	}
	return 0
}

// knownGroupMember reports whether user is in group (its members list).
func (h *Host) knownGroupMember(user, group string) bool {
	b, _ := h.readFile("/etc/group")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 4 && f[0] == group {
			for _, m := range strings.Split(f[3], ",") {
				if m == user {
					return true
				}
			}
		}
	}
	return false
}

// Resolve looks a host name up as the host's resolver would: an address
// literal, or a line of its /etc/hosts.
func (h *Host) Resolve(name string) (netip.Addr, bool) { return h.resolve(name) }

// Fetch gets a URL outside the lab as the host's programs do for a name
// no /etc/hosts line gives: from the lab's Internet (LabOptions.Internet).
// reachable is false when the Internet has no server of that name.
func (h *Host) Fetch(ctx context.Context, rawURL string) (status int, body []byte, reachable bool) {
	return h.lab.fetch(ctx, rawURL)
}

// Errors of Request: what a TCP connect from the host got.
var (
	ErrRefused     = errors.New("connection refused")
	ErrUnreachable = errors.New("no route to host")
	ErrReset       = errors.New("connection reset by peer")
)

// Response is what an HTTP(S) request between hosts got back.
type Response struct {
	Status int
	Body   []byte
	// CertPEM is the certificate chain of the TLS service that answered
	// (see ServeTLS), nil for plain HTTP.
	CertPEM []byte
}

// Request makes an HTTP request from the host to addr over the lab's
// network, as curl does: to a VIP's holder, through HAProxy frontends to
// their backends, or to a service on a host. A failed connection is
// ErrRefused, ErrUnreachable or ErrReset.
func (h *Host) Request(ctx context.Context, addr netip.AddrPort, method, path string, body io.Reader) (Response, error) {
	res := h.lab.request(ctx, h, addr, method, path, body, 0)
	switch res.fail {
	case "refused":
		return Response{}, ErrRefused
	case "unreachable":
		return Response{}, ErrUnreachable
	case "reset":
		return Response{}, ErrReset
	}
	return Response{Status: res.status, Body: res.body, CertPEM: res.cert}, nil
}
