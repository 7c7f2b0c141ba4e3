package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// pids numbers the simulated processes whose IDs show in messages.
type pids struct{ n atomic.Int64 }

func (p *pids) next() int { return int(p.n.Add(1)) + 1000 }

// checkHAProxy checks a config as `haproxy -c -f FILE` does: with the
// lab's real haproxy when it has one, else structurally. It returns the
// output lines, the exit status and the parsed config.
func (h *Host) checkHAProxy(ctx context.Context, file string, content []byte) ([]string, int, *haproxyConfig) {
	known := func(kind, name string) bool {
		if kind == "user" {
			return h.knownUser(name)
		}
		return h.knownGroup(name)
	}
	cfg, chk := parseHAProxy(file, string(content), known)
	// The real haproxy would look users up on this machine, not on the
	// simulated host: errors of the host's state come from the simulator.
	if bin := h.lab.opts.HAProxyBinary; bin != "" && !chk.hostState {
		out, code, err := realCheck(ctx, bin, file, content)
		if err == nil {
			return out, code, cfg
		}
		h.lab.log.Warn("simulated host: the real haproxy could not check, using the structural check", "host", h.spec.Name, "err", err)
	}
	lines := chk.messages(file, h.pids.next())
	switch chk.exitCode() {
	case 0:
		if len(chk.warnings) > 0 {
			lines = append(lines, "Warnings were found.")
		}
		lines = append(lines, "Configuration file is valid")
	case 2:
		lines = append(lines, "Configuration file has no error but will not start (no listener) => exit(2).")
	}
	return lines, chk.exitCode(), cfg
}

// realCheck runs a real haproxy -c on a copy of content, naming it file in
// the output.
func realCheck(ctx context.Context, bin, file string, content []byte) ([]string, int, error) {
	dir, err := os.MkdirTemp("", "homelab-sim-haproxy-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		return nil, 0, err
	}
	cmd := exec.CommandContext(ctx, bin, "-c", "-f", tmp)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		return nil, 0, err
	}
	text := strings.ReplaceAll(string(out), tmp, file)
	return strings.Split(strings.TrimRight(text, "\n"), "\n"), code, nil
}

// haproxyProgram is `haproxy -c -f FILE` (and -v). Anything else is left
// to systemd: the simulated HAProxy runs as haproxy.service.
func haproxyProgram(ctx context.Context, c *Call) int {
	var files []string
	check, quiet, masterWorker := false, false, false
	args := c.Args[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-c":
			check = true
		case a == "-q":
			quiet = true
		case a == "-W" || a == "-Ws":
			masterWorker = true
		case a == "-f" && i+1 < len(args):
			files = append(files, args[i+1])
			i++
		case a == "-v" || a == "-vv" || a == "-V":
			fmt.Fprintln(c.Stdout, "HAProxy version 2.6.12-1+deb12u1 2023/12/16 - https://haproxy.org/\nStatus: long-term supported branch - will stop receiving fixes around Q2 2027.")
			return 0
		}
	}
	if !check {
		fmt.Fprintln(c.Stderr, "haproxy: the simulated HAProxy runs as haproxy.service: use systemctl (or -c to check a config)")
		return 1
	}
	if len(files) == 0 {
		files = []string{"/etc/haproxy/haproxy.cfg"}
	}
	pid := c.Host.pids.next()
	for _, f := range files {
		b, err := readAs(c, f)
		if err != nil {
			fmt.Fprintf(c.Stderr, "[NOTICE]   (%d) : haproxy version is 2.6.12-1+deb12u1\n[NOTICE]   (%d) : path to executable is /usr/sbin/haproxy\n", pid, pid)
			fmt.Fprintf(c.Stderr, "[ALERT]    (%d) : config : Cannot open configuration file/directory %s : %s\n", pid, f, describe(err))
			return 1
		}
		lines, code, _ := c.Host.checkHAProxy(ctx, f, b)
		if code == 2 && masterWorker {
			// A master process runs without listeners.
			code, lines = 0, nil
		}
		for _, l := range lines {
			switch {
			case l == "Configuration file is valid" || l == "Warnings were found." || strings.HasPrefix(l, "Configuration file has no error"):
				if !quiet {
					fmt.Fprintln(c.Stdout, l)
				}
			case !quiet || strings.Contains(l, "[ALERT]"):
				fmt.Fprintln(c.Stderr, l)
			}
		}
		if code != 0 {
			return code
		}
	}
	return 0
}

// startHAProxy starts HAProxy (or reloads it) on /etc/haproxy/haproxy.cfg:
// the unit's check first, then binding every frontend address, which must
// be the host's (or a VIP it holds, or any with net.ipv4.ip_nonlocal_bind).
// A failed reload keeps the running config.
func (h *Host) startHAProxy(ctx context.Context) bool {
	const file = "/etc/haproxy/haproxy.cfg"
	const unitName = "haproxy.service"
	b, err := h.readFile(file)
	if err != nil {
		h.record(unitName, fmt.Sprintf("[ALERT]    (%d) : config : Cannot open configuration file/directory %s : %s", h.pids.next(), file, describe(err)))
		return false
	}
	// The unit runs HAProxy as a master process (-Ws): a config without
	// listeners is fine.
	lines, code, cfg := h.checkHAProxy(ctx, file, b)
	if code != 0 && code != 2 {
		h.record(unitName, lines...)
		h.record(unitName, "haproxy.service: Control process exited, code=exited, status="+strconv.Itoa(code)+"/"+map[bool]string{true: "INVALIDARGUMENT", false: "FAILURE"}[code == 2])
		return false
	}
	h.mu.Lock()
	nonlocal := h.sysctlLocked("net.ipv4.ip_nonlocal_bind") == "1"
	held := append([]netip.Prefix(nil), h.held...)
	h.mu.Unlock()
	own := func(a netip.Addr) bool {
		if !a.IsValid() || a.IsLoopback() || a == h.IP() || nonlocal {
			return true
		}
		for _, p := range held {
			if p.Addr() == a {
				return true
			}
		}
		return false
	}
	bound := map[string]bool{}
	pid := h.pids.next()
	for _, px := range cfg.proxies {
		if !px.frontend() {
			continue
		}
		for _, bd := range px.binds {
			addr := netip.AddrPortFrom(bd.addr, bd.port).String()
			if !bd.addr.IsValid() {
				addr = "0.0.0.0:" + strconv.Itoa(int(bd.port))
			}
			why := ""
			switch {
			case !own(bd.addr):
				why = "Cannot assign requested address"
			case bound[addr] || bound["0.0.0.0:"+strconv.Itoa(int(bd.port))]:
				why = "Address already in use"
			}
			if why != "" {
				h.record(unitName, fmt.Sprintf("[ALERT]    (%d) : Starting %s %s: cannot bind socket (%s) [%s]", pid, px.kind, px.name, why, addr))
				return false
			}
			bound[addr] = true
		}
	}
	h.mu.Lock()
	h.haproxy = cfg
	h.mu.Unlock()
	return true
}

// running returns the running HAProxy's config, nil when it is stopped.
func (h *Host) running() *haproxyConfig {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.haproxy
}

// statsColumns are the columns of HAProxy 2.6's stats CSV.
const statsColumns = "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out"

// serverState is a server as HAProxy's checks see it.
type serverState struct {
	status, check, code, last, desc string
}

// up reports whether HAProxy would send traffic to the server.
func (s serverState) up() bool { return s.status == "UP" || s.status == "no check" }

// serverHealth is the result of a backend server's health check, made
// from h.
func (l *Lab) serverHealth(ctx context.Context, h *Host, px *haproxyProxy, s haproxyServer) serverState {
	if !s.check {
		return serverState{status: "no check"}
	}
	target := l.route(h, s.addr.Addr())
	var served bool
	if target != nil && target.powered() {
		served = target.service(s.addr.Port()) != nil
	}
	if !served {
		if !l.opts.StrictBackends {
			if px.httpCheck {
				return serverState{status: "UP", check: "L7OK", code: "200", desc: "Layer7 check passed"}
			}
			return serverState{status: "UP", check: "L4OK", desc: "Layer4 check passed"}
		}
		return serverState{status: "DOWN", check: "L4CON", last: "Connection refused", desc: "Layer4 connection problem"}
	}
	if !px.httpCheck {
		return serverState{status: "UP", check: "L4OK", desc: "Layer4 check passed"}
	}
	p := px.checkPath
	if p == "" {
		p = "/"
	}
	res := l.serve(ctx, h, target, s.addr.Port(), "GET", p, nil)
	code := strconv.Itoa(res.status)
	ok := res.status >= 200 && res.status < 400
	if px.checkExpect != "" {
		ok = code == px.checkExpect
	}
	if !ok {
		return serverState{status: "DOWN", check: "L7STS", code: code, last: "HTTP status check returned code <3C>" + code + "<3E>", desc: "Layer7 wrong status"}
	}
	return serverState{status: "UP", check: "L7OK", code: code, desc: "Layer7 check passed"}
}

// statsCSV is the running HAProxy's stats CSV, as `show stat` and the
// stats page's ";csv" give it.
func (l *Lab) statsCSV(ctx context.Context, h *Host, cfg *haproxyConfig) []byte {
	cols := strings.Split(statsColumns, ",")
	var b bytes.Buffer
	b.WriteString("# " + statsColumns + ",\n")
	row := func(v map[string]string) {
		for _, c := range cols {
			b.WriteString(v[c])
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	for i, px := range cfg.proxies {
		iid := strconv.Itoa(i + 2)
		mode := px.mode
		if mode == "" {
			mode = "tcp"
		}
		if px.frontend() {
			row(map[string]string{"pxname": px.name, "svname": "FRONTEND", "scur": "0", "smax": "0", "slim": "262121",
				"stot": "0", "status": "OPEN", "pid": "1", "iid": iid, "sid": "0", "type": "0", "mode": mode})
		}
		if !px.backend() {
			continue
		}
		up := 0
		for j, s := range px.servers {
			st := l.serverHealth(ctx, h, px, s)
			if st.up() {
				up++
			}
			check := st.check
			health := "4"
			if st.status == "DOWN" {
				health = "0"
			}
			row(map[string]string{"pxname": px.name, "svname": s.name, "qcur": "0", "qmax": "0", "scur": "0", "smax": "0",
				"stot": "0", "status": st.status, "weight": "1", "act": "1", "bck": "0", "chkfail": "0", "chkdown": "0",
				"lastchg": "1", "downtime": "0", "pid": "1", "iid": iid, "sid": strconv.Itoa(j + 1), "type": "2",
				"check_status": check, "check_code": st.code, "check_duration": "1", "last_chk": st.last,
				"check_desc": st.desc, "check_rise": "2", "check_fall": "3", "check_health": health,
				"addr": s.addr.String(), "mode": mode})
		}
		status := "DOWN"
		if up > 0 {
			status = "UP"
		}
		row(map[string]string{"pxname": px.name, "svname": "BACKEND", "qcur": "0", "qmax": "0", "scur": "0", "smax": "0",
			"stot": "0", "status": status, "weight": strconv.Itoa(up), "act": strconv.Itoa(up), "bck": "0",
			"pid": "1", "iid": iid, "sid": "0", "type": "1", "mode": mode, "algo": "roundrobin"})
	}
	return b.Bytes()
}
