package host

import (
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"strconv"
	"strings"
)

// keepalivedConfig is what the simulator understands of a
// keepalived.conf: the VRRP instances and their scripts.
type keepalivedConfig struct {
	scriptUser string
	scripts    map[string]*vrrpScript
	instances  []*vrrpInstance
}

// vrrpScript is a vrrp_script block.
type vrrpScript struct {
	name, command string
	weight        int
}

// vrrpInstance is a vrrp_instance block.
type vrrpInstance struct {
	name      string
	iface     string
	vrid      int
	priority  int
	nopreempt bool
	peers     []netip.Addr
	authType  string
	authPass  string
	vips      []netip.Prefix
	tracks    []string
}

// kaNode is a keepalived.conf statement, with the block it opens.
type kaNode struct {
	words []string
	line  int
	block []*kaNode
}

// kaTokens splits a line into words and braces, without its comment (#
// or !, outside double quotes).
func kaTokens(line string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
			if !quoted {
				out = append(out, cur.String())
				cur.Reset()
			}
		case quoted:
			cur.WriteRune(r)
		case r == '#' || r == '!':
			flush()
			return out
		case r == '{' || r == '}':
			flush()
			out = append(out, string(r))
		case r == ' ' || r == '\t' || r == '\r':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

// kaParse builds the statement tree; unbalanced is the count of missing
// (positive) or extra (negative) closing braces.
func kaParse(text string) (nodes []*kaNode, unbalanced int) {
	stack := [][]*kaNode{nil}
	var owners []*kaNode
	var last *kaNode
	for n, line := range strings.Split(text, "\n") {
		var words []string
		for _, t := range kaTokens(line) {
			switch t {
			case "{":
				if len(words) > 0 {
					last = &kaNode{words: words, line: n + 1}
					stack[len(stack)-1] = append(stack[len(stack)-1], last)
					words = nil
				}
				owners = append(owners, last)
				stack = append(stack, nil)
			case "}":
				if len(words) > 0 {
					stack[len(stack)-1] = append(stack[len(stack)-1], &kaNode{words: words, line: n + 1})
					words = nil
				}
				if len(stack) == 1 {
					unbalanced--
					continue
				}
				block := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if o := owners[len(owners)-1]; o != nil {
					o.block = block
				}
				owners = owners[:len(owners)-1]
			default:
				words = append(words, t)
			}
		}
		if len(words) > 0 {
			last = &kaNode{words: words, line: n + 1}
			stack[len(stack)-1] = append(stack[len(stack)-1], last)
		}
	}
	for len(stack) > 1 {
		block := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if o := owners[len(owners)-1]; o != nil {
			o.block = block
		}
		owners = owners[:len(owners)-1]
		unbalanced++
	}
	return stack[0], unbalanced
}

// Keywords keepalived 2.2 knows in the blocks homelab writes.
const (
	kaTop      = "global_defs vrrp_script vrrp_instance vrrp_sync_group virtual_server include static_ipaddress static_routes static_rules track_file linkbeat_interfaces garp_group virtual_server_group net_namespace"
	kaGlobal   = "router_id enable_script_security script_user notification_email notification_email_from smtp_server smtp_connect_timeout vrrp_skip_check_adv_addr vrrp_strict vrrp_garp_interval vrrp_gna_interval max_auto_priority vrrp_version vrrp_iptables vrrp_mcast_group4 vrrp_mcast_group6 dynamic_interfaces checker_log_all_failures lvs_id enable_traps default_interface vrrp_no_swap checker_no_swap vrrp_garp_master_delay vrrp_garp_master_refresh vrrp_priority"
	kaScript   = "script interval timeout weight fall rise user init_fail"
	kaInstance = "state interface virtual_router_id priority advert_int nopreempt preempt_delay unicast_src_ip unicast_peer unicast_fault_no_peer check_unicast_src authentication virtual_ipaddress virtual_ipaddress_excluded virtual_routes virtual_rules track_script track_interface track_file notify notify_master notify_backup notify_fault notify_stop smtp_alert dont_track_primary garp_master_delay garp_master_refresh use_vmac vmac_xmit_base native_ipv6 version accept no_accept strict_mode mcast_src_ip debug skip_check_adv_addr lvs_sync_daemon_interface"
)

// parseKeepalived reads and checks a keepalived.conf as `keepalived
// --config-test` would on host h. lines are its messages; fatal is a
// config the daemon could not run.
func (h *Host) parseKeepalived(file, text string) (cfg *keepalivedConfig, lines []string, fatal bool) {
	cfg = &keepalivedConfig{scripts: map[string]*vrrpScript{}}
	at := func(line int) string { return fmt.Sprintf("(%s: Line %d) ", file, line) }
	errorf := func(format string, a ...any) {
		lines = append(lines, fmt.Sprintf(format, a...))
		fatal = true
	}
	nodes, unbalanced := kaParse(text)
	for _, n := range nodes {
		switch kw := n.words[0]; {
		case !contains(kaTop, kw):
			errorf("%sUnknown keyword '%s'", at(n.line), kw)
		case kw == "global_defs":
			for _, g := range n.block {
				if !contains(kaGlobal, g.words[0]) {
					errorf("%sUnknown keyword '%s'", at(g.line), g.words[0])
					continue
				}
				if g.words[0] == "script_user" && len(g.words) > 1 {
					cfg.scriptUser = g.words[1]
					if !h.knownUser(g.words[1]) {
						errorf("(Line %d) Error setting global script uid/gid", g.line)
					}
				}
			}
		case kw == "vrrp_script":
			s := &vrrpScript{}
			if len(n.words) > 1 {
				s.name = n.words[1]
			}
			for _, o := range n.block {
				switch {
				case !contains(kaScript, o.words[0]):
					errorf("%sUnknown keyword '%s'", at(o.line), o.words[0])
				case o.words[0] == "script" && len(o.words) > 1:
					s.command = strings.Join(o.words[1:], " ")
				case o.words[0] == "weight" && len(o.words) > 1:
					s.weight, _ = strconv.Atoi(o.words[1])
				}
			}
			cfg.scripts[s.name] = s
		case kw == "vrrp_instance":
			if in, ok := h.parseInstance(n, at, errorf, &lines); ok {
				cfg.instances = append(cfg.instances, in)
			}
		}
	}
	for _, in := range cfg.instances {
		for _, t := range in.tracks {
			if cfg.scripts[t] == nil {
				lines = append(lines, fmt.Sprintf("(%s) track_script %s not found, ignoring...", in.name, t))
			}
		}
	}
	switch {
	case unbalanced > 0:
		errorf("There are %d missing '}'s or extra '{'s", unbalanced)
	case unbalanced < 0:
		errorf("There are %d extra '}'s or missing '{'s", -unbalanced)
	}
	return cfg, lines, fatal
}

// parseInstance reads a vrrp_instance block.
func (h *Host) parseInstance(n *kaNode, at func(int) string, errorf func(string, ...any), lines *[]string) (*vrrpInstance, bool) {
	in := &vrrpInstance{priority: 100, authType: "NONE"}
	if len(n.words) > 1 {
		in.name = n.words[1]
	}
	valid := true
	arg := func(o *kaNode) string {
		if len(o.words) > 1 {
			return o.words[1]
		}
		return ""
	}
	for _, o := range n.block {
		switch kw := o.words[0]; {
		case !contains(kaInstance, kw):
			errorf("%sUnknown keyword '%s'", at(o.line), kw)
		case kw == "interface":
			in.iface = arg(o)
			if in.iface != h.spec.Interface {
				errorf("%sWARNING - interface %s for vrrp_instance %s doesn't exist", at(o.line), in.iface, in.name)
				errorf("Non-existent interface specified in configuration")
				valid = false
			}
		case kw == "virtual_router_id":
			v, err := strconv.Atoi(arg(o))
			if err != nil || v < 1 || v > 255 {
				errorf("%snumber '%s' outside range [1, 255]", at(o.line), arg(o))
				errorf("%s(%s): VRID '%s' not valid - must be between 1 & 255", at(o.line), in.name, arg(o))
				continue
			}
			in.vrid = v
		case kw == "priority":
			v, err := strconv.Atoi(arg(o))
			if err != nil || v < 1 || v > 255 {
				errorf("%s(%s) Priority not valid! must be between 1 & 255", at(o.line), in.name)
				continue
			}
			in.priority = v
		case kw == "nopreempt":
			in.nopreempt = true
		case kw == "unicast_peer":
			for _, p := range o.block {
				a, err := netip.ParseAddr(p.words[0])
				if err != nil {
					errorf("%s(%s) unicast_peer %s is not a valid IP address", at(p.line), in.name, p.words[0])
					continue
				}
				in.peers = append(in.peers, a)
			}
		case kw == "authentication":
			for _, a := range o.block {
				switch a.words[0] {
				case "auth_type":
					in.authType = arg(a)
				case "auth_pass":
					in.authPass = arg(a)
					if len(in.authPass) > 8 {
						*lines = append(*lines, fmt.Sprintf("%sTruncating auth_pass to 8 characters", at(a.line)))
						in.authPass = in.authPass[:8]
					}
				default:
					errorf("%sUnknown keyword '%s'", at(a.line), a.words[0])
				}
			}
		case kw == "virtual_ipaddress":
			for _, v := range o.block {
				p, err := netip.ParsePrefix(v.words[0])
				if err != nil {
					a, aerr := netip.ParseAddr(v.words[0])
					if aerr != nil {
						errorf("%s(%s): Invalid address '%s' - ignoring", at(v.line), in.name, v.words[0])
						continue
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				in.vips = append(in.vips, p)
			}
		case kw == "track_script":
			for _, t := range o.block {
				in.tracks = append(in.tracks, t.words[0])
			}
		}
	}
	if in.vrid == 0 {
		errorf("(%s) the virtual router id must be set", in.name)
		valid = false
	}
	if in.iface == "" {
		errorf("(%s) Unknown interface!", in.name)
		valid = false
	}
	return in, valid
}

// keepalivedProgram is `keepalived --config-test [-f FILE]` (and
// --version). Keepalived 2.2.7 ends the check of a config with a
// vrrp_script by killing itself: exit 143 after its messages.
func keepalivedProgram(_ context.Context, c *Call) int {
	file, test := "/etc/keepalived/keepalived.conf", false
	args := c.Args[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-t" || strings.HasPrefix(a, "--config-test"):
			test = true
		case a == "-f" || a == "--use-file":
			if i+1 < len(args) {
				file = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--use-file="):
			file = strings.TrimPrefix(a, "--use-file=")
		case strings.HasPrefix(a, "-f"):
			file = a[2:]
		case a == "-v" || a == "--version":
			fmt.Fprintln(c.Stderr, "Keepalived v2.2.7 (01/16,2022)")
			return 0
		}
	}
	if !test {
		fmt.Fprintln(c.Stderr, "keepalived: the simulated keepalived runs as keepalived.service: use systemctl")
		return 1
	}
	b, err := readAs(c, file)
	if err != nil {
		fmt.Fprintf(c.Stderr, "Config files missing '%s'.\n", file)
		return 0
	}
	cfg, lines, fatal := c.Host.parseKeepalived(file, string(b))
	for _, l := range lines {
		fmt.Fprintln(c.Stderr, l)
	}
	switch {
	case len(cfg.scripts) > 0:
		return 143
	case fatal:
		return 5
	}
	return 0
}

// readAs reads a host file with the caller's permissions.
func readAs(c *Call, file string) ([]byte, error) {
	p := c.Path(file)
	if !c.Host.readable(c.User, p) {
		return nil, fs.ErrPermission
	}
	return c.Host.readFile(p)
}

// startKeepalived starts (or reloads) keepalived on its config: skipped
// when the config is missing or empty (the unit's ConditionFileNotEmpty),
// failed when the daemon could not read it.
func (h *Host) startKeepalived() (ok, skipped bool) {
	const file = "/etc/keepalived/keepalived.conf"
	b, err := h.readFile(file)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		h.record("keepalived.service", "Keepalive Daemon (LVS and VRRP) was skipped because of an unmet condition check (ConditionFileNotEmpty=/etc/keepalived/keepalived.conf).")
		return false, true
	}
	cfg, lines, _ := h.parseKeepalived(file, string(b))
	h.record("keepalived.service", lines...)
	if _, unbalanced := kaParse(string(b)); unbalanced != 0 {
		return false, false
	}
	h.mu.Lock()
	h.keepalived = cfg
	h.mu.Unlock()
	return true, false
}
