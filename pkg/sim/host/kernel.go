package host

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// ipProgram is `ip [-o] [-4|-6] addr|address|a show [dev IFACE]`, `ip link
// show` and `ip route`.
func ipProgram(_ context.Context, c *Call) int {
	h := c.Host
	oneline, family := false, ""
	args := c.Args[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-o", "-oneline":
			oneline = true
		case "-4", "-6":
			family = args[0]
		case "-br", "-brief", "-c", "-color":
		default:
			fmt.Fprintf(c.Stderr, "Option \"%s\" is unknown, try \"ip -help\".\n", args[0])
			return 255
		}
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(c.Stderr, "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }")
		return 255
	}
	object, rest := args[0], args[1:]
	dev := ""
	for i, a := range rest {
		if a == "dev" && i+1 < len(rest) {
			dev = rest[i+1]
		}
	}
	if dev != "" && dev != "lo" && dev != h.spec.Interface {
		fmt.Fprintf(c.Stderr, "Device \"%s\" does not exist.\n", dev)
		return 1
	}
	iface := h.spec.Interface
	switch {
	case strings.HasPrefix("address", object) || object == "addr" || object == "a":
		if len(rest) > 0 && rest[0] != "show" && rest[0] != "list" && rest[0] != "dev" {
			if !c.Root() {
				fmt.Fprintln(c.Stderr, "RTNETLINK answers: Operation not permitted")
				return 2
			}
			fmt.Fprintln(c.Stderr, "ip: the simulated host's addresses belong to its lab (keepalived moves VIPs)")
			return 2
		}
		type line struct {
			idx                   int
			dev, fam, addr, extra string
		}
		var lines []line
		if dev == "" || dev == "lo" {
			lines = append(lines, line{1, "lo", "inet", "127.0.0.1/8", "scope host lo"}, line{1, "lo", "inet6", "::1/128", "scope host noprefixroute"})
		}
		if dev == "" || dev == iface {
			p := h.spec.Address
			brd := broadcast(p)
			lines = append(lines, line{2, iface, "inet", p.String(), "brd " + brd + " scope global " + iface})
			h.mu.Lock()
			held := append([]netip.Prefix(nil), h.held...)
			h.mu.Unlock()
			for _, v := range held {
				lines = append(lines, line{2, iface, "inet", v.String(), "scope global secondary " + iface})
			}
			lines = append(lines, line{2, iface, "inet6", "fe80::be24:11ff:fe" + fmt.Sprintf("%02x:%02x%02x/64", p.Addr().As4()[1], p.Addr().As4()[2], p.Addr().As4()[3]), "scope link"})
		}
		last := 0
		for _, l := range lines {
			if family == "-4" && l.fam != "inet" || family == "-6" && l.fam != "inet6" {
				continue
			}
			if oneline {
				fmt.Fprintf(c.Stdout, "%d: %s    %s %s %s\\       valid_lft forever preferred_lft forever\n", l.idx, l.dev, l.fam, l.addr, l.extra)
				continue
			}
			if l.idx != last {
				if l.dev == "lo" {
					fmt.Fprintf(c.Stdout, "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n")
				} else {
					fmt.Fprintf(c.Stdout, "2: %s: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000\n    link/ether bc:24:11:00:00:01 brd ff:ff:ff:ff:ff:ff\n", l.dev)
				}
				last = l.idx
			}
			fmt.Fprintf(c.Stdout, "    %s %s %s\n       valid_lft forever preferred_lft forever\n", l.fam, l.addr, l.extra)
		}
	case strings.HasPrefix("link", object) || object == "l":
		if dev == "" || dev == "lo" {
			fmt.Fprintln(c.Stdout, "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00")
		}
		if dev == "" || dev == iface {
			fmt.Fprintf(c.Stdout, "2: %s: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP mode DEFAULT group default qlen 1000\n    link/ether bc:24:11:00:00:01 brd ff:ff:ff:ff:ff:ff\n", iface)
		}
	case strings.HasPrefix("route", object) || object == "r":
		if h.spec.Gateway.IsValid() {
			fmt.Fprintf(c.Stdout, "default via %s dev %s proto static\n", h.spec.Gateway, iface)
		}
		fmt.Fprintf(c.Stdout, "%s dev %s proto kernel scope link src %s\n", h.spec.Address.Masked(), iface, h.IP())
	default:
		fmt.Fprintf(c.Stderr, "Object \"%s\" is unknown, try \"ip help\".\n", object)
		return 255
	}
	return 0
}

// broadcast returns an IPv4 prefix's broadcast address.
func broadcast(p netip.Prefix) string {
	if !p.Addr().Is4() {
		return ""
	}
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
}

// sysctlDefault returns a kernel parameter the simulator knows, with its
// default.
func sysctlDefault(key string) (string, bool) {
	switch key {
	case "net.ipv4.ip_nonlocal_bind", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding",
		"net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables", "net.bridge.bridge-nf-call-arptables":
		return "0", true
	case "net.ipv4.conf.all.rp_filter":
		return "2", true
	case "vm.swappiness":
		return "60", true
	case "fs.inotify.max_user_watches":
		return "8192", true
	case "fs.inotify.max_user_instances":
		return "128", true
	}
	return "", false
}

// applySysctl sets the parameters of a sysctl.d file; it returns the
// settings read and the unknown keys.
func (h *Host) applySysctl(file string) (set [][2]string, unknown []string, err error) {
	b, err := h.readFile(file)
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(strings.TrimPrefix(k, "-")), strings.TrimSpace(v)
		if !h.knownSysctl(k) {
			unknown = append(unknown, k)
			continue
		}
		h.mu.Lock()
		h.sysctl[k] = v
		h.mu.Unlock()
		set = append(set, [2]string{k, v})
	}
	return set, unknown, nil
}

// sysctlProgram is `sysctl [-q] -p FILE`, `sysctl [-n] KEY...` and
// `sysctl -w KEY=VALUE`.
func sysctlProgram(_ context.Context, c *Call) int {
	h := c.Host
	quiet, values, write, system := false, false, false, false
	var files, keys []string
	args := c.Args[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-q" || a == "--quiet":
			quiet = true
		case a == "-n" || a == "--values":
			values = true
		case a == "-w" || a == "--write":
			write = true
		case a == "--system":
			system = true
		case a == "-p" || a == "--load":
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				files = append(files, args[i+1])
				i++
			} else {
				files = append(files, "/etc/sysctl.conf")
			}
		case strings.HasPrefix(a, "-p"):
			files = append(files, a[2:])
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(c.Stderr, "sysctl: unknown option %s\n", a)
			return 255
		default:
			keys = append(keys, a)
		}
	}
	status := 0
	if system {
		return sysctlSystem(c, quiet)
	}
	for _, f := range files {
		if !c.Root() {
			fmt.Fprintln(c.Stderr, "sysctl: permission denied on key \"net.ipv4.ip_nonlocal_bind\"")
			return 255
		}
		set, unknown, err := h.applySysctl(c.Path(f))
		if err != nil {
			fmt.Fprintf(c.Stderr, "sysctl: cannot open \"%s\": %s\n", f, describe(err))
			return 255
		}
		status = max(status, reportSysctl(c, set, unknown, quiet))
	}
	for _, k := range keys {
		key, val, assign := strings.Cut(k, "=")
		if !h.knownSysctl(key) {
			fmt.Fprintf(c.Stderr, "sysctl: cannot stat /proc/sys/%s: No such file or directory\n", strings.ReplaceAll(key, ".", "/"))
			status = 255
			continue
		}
		if assign || write {
			if !c.Root() {
				fmt.Fprintf(c.Stderr, "sysctl: permission denied on key \"%s\"\n", key)
				status = 255
				continue
			}
			h.mu.Lock()
			h.sysctl[key] = val
			h.mu.Unlock()
		}
		v := h.Sysctl(key)
		switch {
		case quiet:
		case values:
			fmt.Fprintln(c.Stdout, v)
		default:
			fmt.Fprintf(c.Stdout, "%s = %s\n", key, v)
		}
	}
	return status
}
