package host

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strconv"
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
	return httpResult{status: rec.Code, body: rec.Body.Bytes()}
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

// resolve looks a host name up in h's /etc/hosts.
func (h *Host) resolve(name string) (netip.Addr, bool) {
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

// curl is `curl [-sSfkLI] [-o FILE] [-m SECS] [-X METHOD] [-d DATA] [-w
// FORMAT] URL`, over the lab's simulated network.
func curl(ctx context.Context, c *Call) int {
	var rawURL, output, method, data, writeOut string
	silent, showErr, fail := false, false, false
	args := c.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch {
		case a == "-o" || a == "--output":
			output = next()
		case a == "-X" || a == "--request":
			method = next()
		case a == "-d" || a == "--data" || a == "--data-raw":
			data = next()
		case a == "-w" || a == "--write-out":
			writeOut = next()
		case a == "-m" || a == "--max-time" || a == "--connect-timeout" || a == "-H" || a == "--header" ||
			a == "--cacert" || a == "--resolve" || a == "-u" || a == "--retry" || a == "--retry-delay" || a == "-A":
			next()
		case a == "--silent":
			silent = true
		case a == "--show-error":
			showErr = true
		case a == "--fail":
			fail = true
		case strings.HasPrefix(a, "--"):
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, f := range a[1:] {
				switch f {
				case 's':
					silent = true
				case 'S':
					showErr = true
				case 'f':
					fail = true
				case 'o':
					output = next()
				case 'm':
					next()
				}
			}
		default:
			rawURL = a
		}
	}
	report := func(code int, format string, a ...any) int {
		if !silent || showErr {
			fmt.Fprintf(c.Stderr, "curl: (%d) %s\n", code, fmt.Sprintf(format, a...))
		}
		return code
	}
	if rawURL == "" {
		fmt.Fprintln(c.Stderr, "curl: no URL specified!\ncurl: try 'curl --help' or 'curl --manual' for more information")
		return 2
	}
	if !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return report(3, "URL using bad/illegal format or missing URL")
	}
	ip, ok := c.Host.resolve(u.Hostname())
	if u.Hostname() == "localhost" {
		ip, ok = netip.MustParseAddr("127.0.0.1"), true
	}
	if !ok {
		return report(6, "Could not resolve host: %s", u.Hostname())
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if u.Port() != "" {
		port, _ = strconv.Atoi(u.Port())
	}
	if method == "" {
		method = "GET"
		if data != "" {
			method = "POST"
		}
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	res := c.Host.lab.request(ctx, c.Host, netip.AddrPortFrom(ip, uint16(port)), method, path, strings.NewReader(data), 0)
	switch res.fail {
	case "refused":
		return report(7, "Failed to connect to %s port %d after 0 ms: Couldn't connect to server", u.Hostname(), port)
	case "unreachable":
		return report(28, "Failed to connect to %s port %d after 3001 ms: Timeout was reached", u.Hostname(), port)
	case "reset":
		if u.Scheme == "https" {
			return report(35, "OpenSSL SSL_connect: Connection reset by peer in connection to %s:%d ", u.Hostname(), port)
		}
		return report(52, "Empty reply from server")
	}
	if fail && res.status >= 400 {
		return report(22, "The requested URL returned error: %d", res.status)
	}
	var out io.Writer = c.Stdout
	if output != "" && output != "-" {
		p := c.Path(output)
		if p != "/dev/null" {
			if !c.Host.writable(c.User, p) {
				return report(23, "Failure writing output to destination")
			}
			f, err := os.Create(c.Local(p))
			if err != nil {
				return report(23, "Failure writing output to destination")
			}
			defer f.Close()
			out = f
		} else {
			out = io.Discard
		}
	}
	out.Write(res.body)
	if writeOut != "" {
		fmt.Fprint(c.Stdout, strings.ReplaceAll(writeOut, "%{http_code}", fmt.Sprintf("%03d", res.status)))
	}
	return 0
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
