package host

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"mvdan.cc/sh/v3/interp"
)

// builtinPrograms are the programs the simulated hosts know, by the name
// of their binary.
func builtinPrograms() map[string]Program {
	return map[string]Program{
		"sh": shell, "dash": shell, "bash": shell,
		"sudo": sudo, "env": envProgram,
		"true":  func(context.Context, *Call) int { return 0 },
		"false": func(context.Context, *Call) int { return 1 },
		"echo":  echoProgram, "printf": viaShell("printf"), "test": viaShell("test"), "[": viaShell("["),
		"sleep": sleepProgram, "hostname": hostnameProgram, "whoami": whoami, "id": idProgram,
		"uname": uname, "basename": basename, "dirname": dirname,
		"cat": cat, "tee": tee, "head": head, "tail": tail, "wc": wc, "grep": grep, "sed": sed,
		"mkdir": mkdir, "rm": rm, "mv": mv, "cp": cp, "touch": touch, "ls": ls,
		"chmod": chmod, "chown": chown, "install": install, "stat": stat, "sha256sum": sha256sum,
		"useradd":    useradd,
		"dpkg-query": dpkgQuery, "dpkg": dpkg, "apt-get": aptGet, "apt": aptGet,
		"systemctl": systemctl, "journalctl": journalctl, "sysctl": sysctlProgram, "ip": ipProgram, "curl": curl, "socat": socat,
		"haproxy": haproxyProgram, "keepalived": keepalivedProgram,
		"modprobe": modprobe, "lsmod": lsmod, "swapoff": swapProgram, "swapon": swapProgram, "getent": getent,
		"gpg": gpgProgram, "apt-mark": aptMark,
		"cloud-init": cloudInitProgram, "timeout": timeoutProgram,
	}
}

// internal returns the programs that stand in for shell builtins which
// would otherwise look at the local machine (see Host.callHandler).
func internal(name string) (Program, bool) {
	switch name {
	case "__hl_command":
		return commandV, true
	case "__hl_type":
		return typeProgram, true
	case "__hl_kill":
		return killProgram, true
	case "__hl_dash_echo":
		return dashEcho, true
	}
	return nil, false
}

// viaShell runs a shell builtin as a program (/usr/bin/printf...).
func viaShell(builtin string) Program {
	return func(ctx context.Context, c *Call) int {
		return c.Host.runShell(ctx, c, true, builtin+` "$@"`, nil, c.Args[1:])
	}
}

// which finds name as the shell would: a builtin, or a file in PATH.
func which(c *Call, name string) (file string, builtin bool) {
	if interp.IsBuiltin(name) {
		return "", true
	}
	if strings.Contains(name, "/") {
		if fi, err := os.Stat(c.Local(name)); err == nil && !fi.IsDir() {
			return name, false
		}
		return "", false
	}
	for _, dir := range strings.Split(c.Getenv("PATH"), ":") {
		p := path.Join(dir, name)
		if fi, err := os.Stat(c.Local(p)); dir != "" && err == nil && fi.Mode().IsRegular() {
			return p, false
		}
	}
	return "", false
}

// commandV is `command -v NAME...` (and -V).
func commandV(_ context.Context, c *Call) int {
	verbose := c.Args[1] == "-V"
	status := 0
	for _, name := range c.Args[2:] {
		file, builtin := which(c, name)
		switch {
		case builtin && verbose:
			fmt.Fprintf(c.Stdout, "%s is a shell builtin\n", name)
		case builtin:
			fmt.Fprintln(c.Stdout, name)
		case file != "" && verbose:
			fmt.Fprintf(c.Stdout, "%s is %s\n", name, file)
		case file != "":
			fmt.Fprintln(c.Stdout, file)
		default:
			if verbose {
				fmt.Fprintf(c.Stderr, "%s: not found\n", name)
			}
			status = 127
			if !verbose {
				status = 1
			}
		}
	}
	return status
}

// typeProgram is `type NAME...`.
func typeProgram(_ context.Context, c *Call) int {
	status := 0
	for _, name := range c.Args[1:] {
		file, builtin := which(c, name)
		switch {
		case builtin:
			fmt.Fprintf(c.Stdout, "%s is a shell builtin\n", name)
		case file != "":
			fmt.Fprintf(c.Stdout, "%s is %s\n", name, file)
		default:
			fmt.Fprintf(c.Stdout, "%s: not found\n", name)
			status = 127
		}
	}
	return status
}

// killProgram is `kill`: the simulated host has no processes to signal.
func killProgram(_ context.Context, c *Call) int {
	for _, a := range c.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			fmt.Fprintf(c.Stderr, "%skill: No such process\n", c.shellPrefix(c.Line))
			return 1
		}
	}
	fmt.Fprintf(c.Stderr, "%skill: Usage: kill [-s sigspec | -signum | -sigspec] [pid | job]... or\nkill -l [exitstatus]\n", c.shellPrefix(c.Line))
	return 2
}

// echoProgram is coreutils' echo: -n, -e and -E.
func echoProgram(_ context.Context, c *Call) int {
	args := c.Args[1:]
	newline, escapes := true, false
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && strings.Trim(args[0][1:], "neE") == "" {
		for _, f := range args[0][1:] {
			switch f {
			case 'n':
				newline = false
			case 'e':
				escapes = true
			case 'E':
				escapes = false
			}
		}
		args = args[1:]
	}
	out := strings.Join(args, " ")
	if escapes {
		var stop bool
		out, stop = unescape(out)
		newline = newline && !stop
	}
	if newline {
		out += "\n"
	}
	fmt.Fprint(c.Stdout, out)
	return 0
}

// dashEcho is dash's echo: -n only, and backslash escapes always.
func dashEcho(_ context.Context, c *Call) int {
	args := c.Args[1:]
	newline := true
	if len(args) > 0 && args[0] == "-n" {
		newline, args = false, args[1:]
	}
	out, stop := unescape(strings.Join(args, " "))
	if newline && !stop {
		out += "\n"
	}
	fmt.Fprint(c.Stdout, out)
	return 0
}

// unescape reads echo's backslash escapes; stop is \c (no more output).
func unescape(s string) (out string, stop bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\':
			b.WriteByte('\\')
		case 'c':
			return b.String(), true
		case '0':
			j := i + 1
			for j < len(s) && j < i+4 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint("0"+s[i+1:j], 8, 8)
			b.WriteByte(byte(n))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String(), false
}

// sudo runs a command as root (or -u USER) for users with passwordless
// sudo, with sudo's secure_path and a reset environment.
func sudo(ctx context.Context, c *Call) int {
	args := c.Args[1:]
	target := "root"
	var env []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		switch {
		case a == "--":
		case a == "-u":
			if len(args) == 0 {
				fmt.Fprintln(c.Stderr, "sudo: option requires an argument -- 'u'")
				return 1
			}
			target, args = args[0], args[1:]
		case strings.Trim(a[1:], "nEHSiPk") == "" || strings.HasPrefix(a, "--preserve-env"):
		default:
			fmt.Fprintf(c.Stderr, "sudo: invalid option -- '%s'\nusage: sudo -h | -K | -k | -V\n", strings.TrimLeft(a, "-"))
			return 1
		}
		if a == "--" {
			break
		}
	}
	for len(args) > 0 && strings.Contains(args[0], "=") && !strings.HasPrefix(args[0], "=") {
		env, args = append(env, args[0]), args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(c.Stderr, "usage: sudo -h | -K | -k | -V\nusage: sudo -v [-ABknS] [-g group] [-h host] [-p prompt] [-u user]")
		return 1
	}
	if c.User != "root" && !c.Host.sudoer(c.User) {
		fmt.Fprintln(c.Stderr, "sudo: a password is required")
		return 1
	}
	acct, ok := c.Host.account(target)
	if !ok {
		fmt.Fprintf(c.Stderr, "sudo: unknown user %s\nsudo: error initializing audit plugin sudoers_audit\n", target)
		return 1
	}
	sub := c.with(args)
	sub.User, sub.Shell = target, "sudo"
	sub.Env = append([]string{"HOME=" + acct.home, "USER=" + target, "LOGNAME=" + target, "SHELL=" + acct.shell,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
		"SUDO_USER=" + c.User, "SUDO_COMMAND=" + strings.Join(args, " ")}, env...)
	return c.Host.exec(ctx, sub)
}

// sudoer reports whether user has passwordless sudo (a line
// "USER ALL=(ALL) NOPASSWD:ALL" in /etc/sudoers.d).
func (h *Host) sudoer(user string) bool {
	entries, err := os.ReadDir(h.local("/", "/etc/sudoers.d"))
	if err != nil {
		return false
	}
	for _, e := range entries {
		b, err := os.ReadFile(h.local("/", "/etc/sudoers.d/"+e.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == user && f[len(f)-1] == "NOPASSWD:ALL" {
				return true
			}
		}
	}
	return false
}

// envProgram is `env [-i] [-u NAME] [NAME=VALUE]... [COMMAND [ARG]...]`.
func envProgram(ctx context.Context, c *Call) int {
	args := c.Args[1:]
	env := slices.Clone(c.Env)
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-i", "-":
			env = nil
			args = args[1:]
		case "-u":
			if len(args) < 2 {
				c.Errorf("option requires an argument -- 'u'")
				return 125
			}
			env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, args[1]+"=") })
			args = args[2:]
		default:
			c.Errorf("invalid option -- '%s'", strings.TrimLeft(args[0], "-"))
			return 125
		}
	}
	for len(args) > 0 && strings.Contains(args[0], "=") {
		env, args = append(env, args[0]), args[1:]
	}
	if len(args) == 0 {
		for _, kv := range env {
			fmt.Fprintln(c.Stdout, kv)
		}
		return 0
	}
	sub := c.with(args)
	sub.Env, sub.Shell = env, "env"
	return c.Host.exec(ctx, sub)
}

// sleepProgram is `sleep SECONDS` (suffixes s, m, h), ended early by ctx.
func sleepProgram(ctx context.Context, c *Call) int {
	if len(c.Args) < 2 {
		fmt.Fprintln(c.Stderr, "sleep: missing operand\nTry 'sleep --help' for more information.")
		return 1
	}
	var total time.Duration
	for _, a := range c.Args[1:] {
		unit := time.Second
		switch {
		case strings.HasSuffix(a, "s"):
			a = strings.TrimSuffix(a, "s")
		case strings.HasSuffix(a, "m"):
			a, unit = strings.TrimSuffix(a, "m"), time.Minute
		case strings.HasSuffix(a, "h"):
			a, unit = strings.TrimSuffix(a, "h"), time.Hour
		}
		f, err := strconv.ParseFloat(a, 64)
		if err != nil || f < 0 {
			fmt.Fprintf(c.Stderr, "sleep: invalid time interval '%s'\nTry 'sleep --help' for more information.\n", a)
			return 1
		}
		total += time.Duration(f * float64(unit))
	}
	t := time.NewTimer(total)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return 130
	case <-t.C:
		return 0
	}
}

// hostnameProgram is `hostname` (and -I, -f, -s).
func hostnameProgram(_ context.Context, c *Call) int {
	h := c.Host
	if len(c.Args) > 1 && c.Args[1] == "-I" {
		addrs := []string{h.IP().String()}
		for _, v := range h.vips() {
			addrs = append(addrs, v.String())
		}
		fmt.Fprintln(c.Stdout, strings.Join(addrs, " ")+" ")
		return 0
	}
	if len(c.Args) > 1 && !strings.HasPrefix(c.Args[1], "-") {
		if !c.Root() {
			fmt.Fprintln(c.Stderr, "hostname: you must be root to change the host name")
			return 1
		}
	}
	fmt.Fprintln(c.Stdout, h.spec.Name)
	return 0
}

func whoami(_ context.Context, c *Call) int {
	fmt.Fprintln(c.Stdout, c.User)
	return 0
}

func uname(_ context.Context, c *Call) int {
	switch {
	case len(c.Args) > 1 && c.Args[1] == "-a":
		fmt.Fprintf(c.Stdout, "Linux %s 6.1.0-28-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22) x86_64 GNU/Linux\n", c.Host.spec.Name)
	case len(c.Args) > 1 && c.Args[1] == "-r":
		fmt.Fprintln(c.Stdout, "6.1.0-28-amd64")
	case len(c.Args) > 1 && c.Args[1] == "-m":
		fmt.Fprintln(c.Stdout, "x86_64")
	default:
		fmt.Fprintln(c.Stdout, "Linux")
	}
	return 0
}

func basename(_ context.Context, c *Call) int {
	if len(c.Args) < 2 {
		fmt.Fprintln(c.Stderr, "basename: missing operand")
		return 1
	}
	b := path.Base(c.Args[1])
	if len(c.Args) > 2 {
		b = strings.TrimSuffix(b, c.Args[2])
	}
	fmt.Fprintln(c.Stdout, b)
	return 0
}

func dirname(_ context.Context, c *Call) int {
	if len(c.Args) < 2 {
		fmt.Fprintln(c.Stderr, "dirname: missing operand")
		return 1
	}
	for _, a := range c.Args[1:] {
		fmt.Fprintln(c.Stdout, path.Dir(a))
	}
	return 0
}
