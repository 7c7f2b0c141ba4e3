package host

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// haproxyConfig is what the simulator understands of an haproxy.cfg: the
// proxies with their binds, servers and checks.
type haproxyConfig struct {
	proxies []*haproxyProxy
	sockets []string // stats socket paths
}

// haproxyProxy is a frontend, backend or listen section.
type haproxyProxy struct {
	kind, name     string
	line           int
	mode           string
	binds          []haproxyBind
	monitorURI     string
	stats          bool
	statsURI       string
	defaultBackend string
	httpCheck      bool
	checkPath      string
	checkExpect    string
	servers        []haproxyServer
}

func (p *haproxyProxy) frontend() bool { return p.kind == "frontend" || p.kind == "listen" }
func (p *haproxyProxy) backend() bool  { return p.kind == "backend" || p.kind == "listen" }

// haproxyBind is one address of a bind line; an invalid addr is a wildcard.
type haproxyBind struct {
	addr netip.Addr
	port uint16
}

// haproxyServer is a server line.
type haproxyServer struct {
	name  string
	addr  netip.AddrPort
	check bool
}

// haproxyCheck is the outcome of checking a config as `haproxy -c` does.
type haproxyCheck struct {
	alerts, warnings []string
	// fatal: the parse went wrong (exit 1); noListener: valid but nothing
	// to bind (exit 2); hostState: an error comes from the host (a user
	// or group it lacks), not from the text.
	fatal, noListener, hostState bool
	// late: the only errors came after parsing (a missing backend);
	// HAProxy then names no file.
	late bool
}

// Keywords HAProxy 2.6 knows, by section.
const (
	haproxySections = "global defaults frontend backend listen userlist peers resolvers mailers program http-errors ring cache log-forward"
	haproxyGlobal   = "log chroot user group uid gid daemon master-worker stats pidfile maxconn nbthread ca-base crt-base ssl-default-bind-ciphers ssl-default-bind-ciphersuites ssl-default-bind-options ssl-default-server-ciphers ssl-default-server-ciphersuites ssl-default-server-options ssl-dh-param-file lua-load log-send-hostname description node spread-checks hard-stop-after external-check insecure-fork-wanted server-state-file server-state-base localpeer cpu-map setenv presetenv resetenv unsetenv quiet ulimit-n unix-bind busy-polling default-path expose-experimental-directives nbproc log-tag noepoll nosplice set-dumpable strict-limits"
	// haproxyCommon are allowed in every proxy section.
	haproxyCommon       = "mode log option no timeout retries maxconn description http-request http-response http-after-response tcp-request tcp-response acl errorfile errorfiles compression stats balance default-server hash-type http-check tcp-check http-reuse fullconn cookie log-format unique-id-format unique-id-header rate-limit email-alert monitor external-check http-error source load-server-state-from-file id disabled enabled grace backlog log-tag persist dispatch max-keep-alive-queue filter declare force-persist ignore-persist capture redirect server-state-file-name stick stick-table use-server dynamic-cookie-key retry-on bind-process clitcpka-cnt clitcpka-idle clitcpka-intvl srvtcpka-cnt srvtcpka-idle srvtcpka-intvl error-log-format log-format-sd"
	haproxyFrontendOnly = "bind monitor-uri monitor-net default_backend use_backend"
	haproxyBackendOnly  = "server server-template"
	haproxyOptions      = "tcplog httplog dontlognull dontlog-normal redispatch httpchk ssl-hello-chk tcp-check forwardfor http-server-close httpclose http-keep-alive abortonclose allbackups checkcache clitcpka srvtcpka tcpka contstats log-health-checks log-separate-errors logasap mysql-check pgsql-check redis-check smtpchk ldap-check spop-check external-check splice-auto splice-request splice-response transparent http-use-proxy-header originalto persist prefer-last-server socket-stats independent-streams nolinger accept-invalid-http-request accept-invalid-http-response http-buffer-request http-pretend-keepalive http-no-delay http-ignore-probes h1-case-adjust-bogus-client h1-case-adjust-bogus-server disable-h2-upgrade http-restrict-req-hdr-names"
	haproxyTimeouts     = "client server connect check queue http-keep-alive http-request tunnel tarpit client-fin server-fin"
	// haproxyServerFlags take no value; haproxyServerArgs take one.
	haproxyServerFlags = "check check-ssl no-check-ssl backup ssl no-ssl send-proxy send-proxy-v2 disabled enabled agent-check check-send-proxy no-check no-backup tfo no-verifyhost non-stick check-via-socks4"
	haproxyServerArgs  = "verify inter fall rise weight sni maxconn port addr resolvers init-addr ca-file crt alpn check-sni on-marked-down on-marked-up observe error-limit slowstart agent-port agent-inter id cookie track proto verifyhost downinter fastinter minconn maxqueue resolve-prefer check-alpn pool-max-conn ciphers ciphersuites ssl-min-ver ssl-max-ver namespace usesrc source redir"
)

// contains reports whether the space-separated list holds s.
func contains(list, s string) bool {
	for _, x := range strings.Fields(list) {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns HAProxy's "; did you mean 'X' maybe ?" for a misspelt
// keyword.
func suggest(word string, known ...string) string {
	best, bestD := "", 3
	for _, list := range known {
		for _, k := range strings.Fields(list) {
			if d := editDistance(word, k); d < bestD {
				best, bestD = k, d
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean '%s' maybe ?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// haproxyWords splits a config line into words, without its comment.
func haproxyWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quote != 0 && ch == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(ch)
		case ch == '"' || ch == '\'':
			quote, inWord = ch, true
		case ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case ch == '#':
			i = len(line)
		case ch == ' ' || ch == '\t' || ch == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// parseAddrPort reads "addr:port", ":port", "*:port" or "[v6]:port"; a
// wildcard address is returned invalid.
func parseAddrPort(s string) (netip.Addr, string, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.Addr{}, "", false
	}
	host, port := strings.Trim(s[:i], "[]"), s[i+1:]
	if host == "" || host == "*" || host == "0.0.0.0" || host == "::" {
		return netip.Addr{}, port, true
	}
	a, err := netip.ParseAddr(host)
	return a, port, err == nil
}

// parseHAProxy reads and checks config text as haproxy -c would; file
// names the config in messages. known looks the global section's user
// and group up on the host ("user" or "group", and the name).
func parseHAProxy(file, text string, known func(kind, name string) bool) (*haproxyConfig, haproxyCheck) {
	cfg := &haproxyConfig{}
	var chk haproxyCheck
	alert := func(line int, format string, a ...any) {
		chk.alerts = append(chk.alerts, fmt.Sprintf("parsing [%s:%d] : %s", file, line, fmt.Sprintf(format, a...)))
		chk.fatal = true
	}
	warn := func(line int, format string, a ...any) {
		chk.warnings = append(chk.warnings, fmt.Sprintf("parsing [%s:%d] : %s", file, line, fmt.Sprintf(format, a...)))
	}
	section := ""
	var px *haproxyProxy
	for n, raw := range strings.Split(text, "\n") {
		line := n + 1
		w := haproxyWords(raw)
		if len(w) == 0 {
			continue
		}
		kw := w[0]
		if contains(haproxySections, kw) {
			section, px = kw, nil
			switch kw {
			case "frontend", "backend", "listen", "defaults":
				name := ""
				if len(w) > 1 {
					name = w[1]
				} else if kw != "defaults" {
					alert(line, "'%s' expects <name> as argument.", kw)
					continue
				}
				for _, other := range cfg.proxies {
					if other.name == name && kw != "defaults" && (other.frontend() && kw != "backend" || other.backend() && kw != "frontend") {
						chk.alerts = append(chk.alerts, fmt.Sprintf("Parsing [%s:%d]: %s '%s' has the same name as %s '%s' declared at %s:%d.",
							file, line, kw, name, other.kind, name, file, other.line))
						chk.fatal = true
					}
				}
				px = &haproxyProxy{kind: kw, name: name, line: line}
				if kw != "defaults" {
					cfg.proxies = append(cfg.proxies, px)
				}
			}
			continue
		}
		switch section {
		case "":
			chk.alerts = append(chk.alerts, fmt.Sprintf("parsing [%s:%d]: unknown keyword '%s' out of section.", file, line, kw))
			chk.fatal = true
		case "global":
			if !contains(haproxyGlobal, kw) && !strings.HasPrefix(kw, "tune.") && !strings.HasPrefix(kw, "ssl-") {
				alert(line, "unknown keyword '%s' in 'global' section%s", kw, suggest(kw, haproxyGlobal))
				continue
			}
			if (kw == "user" || kw == "group") && len(w) > 1 && known != nil && !known(kw, w[1]) {
				alert(line, "cannot find %s id for '%s' (0:Success)", kw, w[1])
				chk.hostState = true
			}
			if kw == "stats" && len(w) > 2 && w[1] == "socket" {
				cfg.sockets = append(cfg.sockets, w[2])
			}
		case "frontend", "backend", "listen", "defaults":
			parseProxyLine(px, file, line, w, alert, warn, &chk)
		}
	}
	listeners := 0
	for _, p := range cfg.proxies {
		if p.frontend() {
			if len(p.binds) == 0 {
				chk.warnings = append(chk.warnings, fmt.Sprintf("%s '%s' has no 'bind' directive. Please declare it as a backend if this was intended.", p.kind, p.name))
			}
			listeners += len(p.binds)
		}
		if p.defaultBackend != "" && !strings.Contains(p.defaultBackend, "%[") {
			found := false
			for _, b := range cfg.proxies {
				found = found || b.backend() && b.name == p.defaultBackend
			}
			if !found {
				chk.alerts = append(chk.alerts, fmt.Sprintf("Proxy '%s': unable to find required default_backend: '%s'.", p.name, p.defaultBackend))
				chk.late = chk.late || !chk.fatal
				chk.fatal = true
			}
		}
	}
	if !chk.fatal && listeners == 0 {
		chk.noListener = true
	}
	return cfg, chk
}

// parseProxyLine reads one line of a frontend, backend, listen or defaults
// section.
func parseProxyLine(px *haproxyProxy, file string, line int, w []string, alert, warn func(int, string, ...any), chk *haproxyCheck) {
	kw := w[0]
	section := px.kind
	all := haproxyCommon + " " + haproxyFrontendOnly + " " + haproxyBackendOnly
	switch {
	case !contains(all, kw):
		alert(line, "unknown keyword '%s' in '%s' section%s", kw, section, suggest(kw, all))
		return
	case section == "defaults" && (contains(haproxyBackendOnly, kw) || kw == "bind" || kw == "use_backend"):
		alert(line, "'%s' not allowed in 'defaults' section.", kw)
		return
	case section == "frontend" && contains(haproxyBackendOnly, kw):
		chk.alerts = append(chk.alerts, fmt.Sprintf("[%s:%d] : parsing [%s:%d] : '%s' not allowed because frontend '%s' has no backend capability.", file, line, file, line, kw, px.name))
		chk.fatal = true
		return
	case section == "backend" && contains(haproxyFrontendOnly, kw):
		warn(line, "'%s' ignored because backend '%s' has no frontend capability.", kw, px.name)
		return
	}
	switch kw {
	case "mode":
		if len(w) < 2 || !contains("tcp http health", w[1]) {
			arg := ""
			if len(w) > 1 {
				arg = w[1]
			}
			alert(line, "unknown proxy mode '%s'.", arg)
			return
		}
		px.mode = w[1]
	case "option":
		if len(w) < 2 || !contains(haproxyOptions, w[1]) {
			arg := ""
			if len(w) > 1 {
				arg = w[1]
			}
			alert(line, "unknown option '%s'.", arg)
			return
		}
		if w[1] == "httpchk" {
			px.httpCheck = true
			if len(w) > 3 {
				px.checkPath = w[3]
			} else if len(w) == 3 {
				px.checkPath = w[2]
			}
		}
	case "timeout":
		if len(w) < 2 || !contains(haproxyTimeouts, w[1]) {
			got := ""
			if len(w) > 1 {
				got = w[1]
			}
			alert(line, "'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '%s')", got)
			return
		}
		if len(w) < 3 {
			alert(line, "'timeout %s' expects an integer value (in milliseconds)", w[1])
		}
	case "bind":
		if len(w) < 2 {
			alert(line, "'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
			return
		}
		for _, spec := range strings.Split(w[1], ",") {
			addr, port, ok := parseAddrPort(spec)
			if !ok {
				alert(line, "'bind' : invalid address: '%s' in '%s'", strings.TrimSuffix(spec, ":"+port), spec)
				return
			}
			p, err := strconv.Atoi(port)
			if err != nil || p < 1 || p > 65535 {
				alert(line, "'bind' : invalid port '%s'", port)
				return
			}
			px.binds = append(px.binds, haproxyBind{addr: addr, port: uint16(p)})
		}
	case "monitor-uri":
		if len(w) < 2 {
			alert(line, "'monitor-uri' expects an URI.")
			return
		}
		px.monitorURI = w[1]
	case "stats":
		if len(w) > 1 && w[1] == "enable" {
			px.stats = true
			if px.statsURI == "" {
				px.statsURI = "/haproxy?stats"
			}
		}
		if len(w) > 2 && w[1] == "uri" {
			px.stats, px.statsURI = true, w[2]
		}
	case "default_backend":
		if len(w) < 2 {
			alert(line, "'default_backend' expects a backend name.")
			return
		}
		px.defaultBackend = w[1]
	case "http-check":
		parseHTTPCheck(px, line, w, alert)
	case "server", "default-server":
		parseServer(px, file, line, w, chk)
	}
}

// parseHTTPCheck reads an http-check line: send (its method, URI...),
// expect (its status) and the other rules.
func parseHTTPCheck(px *haproxyProxy, line int, w []string, alert func(int, string, ...any)) {
	if len(w) < 2 {
		alert(line, "'http-check' : missing argument.")
		return
	}
	switch w[1] {
	case "send":
		for i := 2; i < len(w); i++ {
			switch w[i] {
			case "meth", "uri", "uri-lf", "ver", "body", "body-lf", "comment":
				if i+1 == len(w) {
					alert(line, "'http-check send' : '%s' expects a value.", w[i])
					return
				}
				if w[i] == "uri" {
					px.checkPath = w[i+1]
				}
				i++
			case "hdr":
				i += 2
			default:
				alert(line, "'http-check send' : expects 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf' but got '%s' as argument..", w[i])
				return
			}
		}
	case "expect":
		args := w[2:]
		if len(args) > 0 && args[0] == "!" {
			args = args[1:]
		}
		if len(args) < 2 || !contains("status rstatus string rstring hdr fhdr", args[0]) {
			alert(line, "'http-check expect' : expects 'status', 'rstatus', 'string', 'rstring', 'hdr' or 'fhdr'.")
			return
		}
		if args[0] == "status" {
			px.checkExpect = args[1]
		}
	case "connect", "comment", "disable-on-404", "set-var", "unset-var", "send-state":
	default:
		alert(line, "'http-check' only supports 'disable-on-404', 'send-state', 'comment', 'connect', 'send', 'expect', 'set-var' and 'unset-var' (got '%s')", w[1])
	}
}

// parseServer reads a server (or default-server) line.
func parseServer(px *haproxyProxy, file string, line int, w []string, chk *haproxyCheck) {
	fail := func(format string, a ...any) {
		chk.alerts = append(chk.alerts, fmt.Sprintf("[%s:%d] : %s", file, line, fmt.Sprintf(format, a...)))
		chk.fatal = true
	}
	opts := w[1:]
	var s haproxyServer
	if w[0] == "server" {
		if len(w) < 3 {
			fail("'server' expects <name> and <addr>[:<port>] as arguments.")
			return
		}
		s.name, opts = w[1], w[3:]
		addr, port, ok := parseAddrPort(w[2])
		if !ok {
			if !strings.Contains(w[2], ":") {
				port = ""
			} else {
				fail("'server %s/%s' : could not resolve address '%s'.", px.name, s.name, w[2])
				return
			}
		}
		if port != "" {
			p, err := strconv.Atoi(port)
			if err != nil || p < 0 || p > 65535 {
				fail("'server %s/%s' : invalid port '%s'", px.name, s.name, port)
				return
			}
			s.addr = netip.AddrPortFrom(addr, uint16(p))
		} else {
			s.addr = netip.AddrPortFrom(addr, 0)
		}
	}
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		switch {
		case contains(haproxyServerFlags, o):
			if o == "check" {
				s.check = true
			}
		case contains(haproxyServerArgs, o):
			if i+1 == len(opts) {
				fail("'%s %s/%s' : '%s' expects an argument.", w[0], px.name, s.name, o)
				return
			}
			i++
		default:
			name := px.name + "/" + s.name
			fail("'%s %s' : unknown keyword '%s'%s", w[0], name, o, suggest(o, haproxyServerFlags, haproxyServerArgs))
			return
		}
	}
	if w[0] == "server" {
		px.servers = append(px.servers, s)
	}
}

// messages renders a check's findings as HAProxy prints them; pid is the
// process ID they carry.
func (chk haproxyCheck) messages(file string, pid int) []string {
	var out []string
	if len(chk.alerts) > 0 || len(chk.warnings) > 0 {
		out = append(out, fmt.Sprintf("[NOTICE]   (%d) : haproxy version is 2.6.12-1+deb12u1", pid),
			fmt.Sprintf("[NOTICE]   (%d) : path to executable is /usr/sbin/haproxy", pid))
	}
	for _, w := range chk.warnings {
		out = append(out, fmt.Sprintf("[WARNING]  (%d) : config : %s", pid, w))
	}
	for _, a := range chk.alerts {
		out = append(out, fmt.Sprintf("[ALERT]    (%d) : config : %s", pid, a))
	}
	if chk.fatal && !chk.late {
		out = append(out, fmt.Sprintf("[ALERT]    (%d) : config : Error(s) found in configuration file : %s", pid, file))
	}
	if chk.fatal {
		out = append(out, fmt.Sprintf("[ALERT]    (%d) : config : Fatal errors found in configuration.", pid))
	}
	return out
}

// exitCode is haproxy -c's exit status for the check.
func (chk haproxyCheck) exitCode() int {
	switch {
	case chk.fatal:
		return 1
	case chk.noListener:
		return 2
	}
	return 0
}
