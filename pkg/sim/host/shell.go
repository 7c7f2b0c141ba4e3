package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// Program is a simulated program: it does what the real one would on
// c.Host and returns its exit status.
type Program func(ctx context.Context, c *Call) int

// Call is one run of a program on a host.
type Call struct {
	Host *Host
	// Args are the arguments, Args[0] the name it was invoked by.
	Args []string
	// Env is the environment, "NAME=value".
	Env []string
	// Dir is the working directory (a host path).
	Dir string
	// User runs the program.
	User string
	// Shell is what ran the program ("sh", "bash", "sudo"...), for the
	// words of errors such as "sh: 1: x: not found"; Line is the line of
	// the script it ran from.
	Shell string
	Line  uint
	Stdin io.Reader
	// Stdout and Stderr receive the output.
	Stdout, Stderr io.Writer
}

// Getenv returns the value of the environment variable name.
func (c *Call) Getenv(name string) string {
	for i := len(c.Env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(c.Env[i], name+"="); ok {
			return v
		}
	}
	return ""
}

// Local returns where the host path p (relative to Dir when not absolute)
// is on the local file system.
func (c *Call) Local(p string) string { return c.Host.local(c.Dir, p) }

// Path returns the absolute, clean host path of p.
func (c *Call) Path(p string) string { return hostPath(c.Dir, p) }

// Root reports whether the program runs as root.
func (c *Call) Root() bool { return c.User == "root" }

// Errorf writes a line to stderr, prefixed with the program's name.
func (c *Call) Errorf(format string, args ...any) {
	fmt.Fprintf(c.Stderr, "%s: %s\n", path.Base(c.Args[0]), fmt.Sprintf(format, args...))
}

// shellPrefix is how the calling shell starts its error lines.
func (c *Call) shellPrefix(line uint) string {
	if line == 0 {
		line = 1
	}
	if c.Shell == "bash" {
		return fmt.Sprintf("bash: line %d: ", line)
	}
	return fmt.Sprintf("sh: %d: ", line)
}

// with returns a copy of c for a program it starts.
func (c *Call) with(args []string) *Call {
	sub := *c
	sub.Args = args
	return &sub
}

// exec runs the program c.Args[0] names: a path, or a name found in the
// PATH. A program must be installed (its file exists) to run.
func (h *Host) exec(ctx context.Context, c *Call) int {
	name := c.Args[0]
	if p, ok := internal(name); ok {
		return p(ctx, c)
	}
	var file string
	if strings.Contains(name, "/") {
		file = c.Path(name)
		if fi, err := os.Stat(h.local("/", file)); err != nil || fi.IsDir() {
			return c.notFound(name, true)
		}
	} else {
		for _, dir := range strings.Split(c.Getenv("PATH"), ":") {
			if dir == "" {
				continue
			}
			p := path.Join(dir, name)
			if fi, err := os.Stat(h.local("/", p)); err == nil && fi.Mode().IsRegular() {
				file = p
				break
			}
		}
		if file == "" {
			return c.notFound(name, false)
		}
	}
	prog, ok := h.lab.programs[path.Base(file)]
	if !ok {
		fmt.Fprintf(c.Stderr, "%s%s: cannot execute: not a program the simulated host knows\n", c.shellPrefix(c.Line), name)
		return 126
	}
	return prog(ctx, c)
}

// notFound reports a command that is not there as the calling shell does.
func (c *Call) notFound(name string, isPath bool) int {
	switch c.Shell {
	case "bash":
		if isPath {
			fmt.Fprintf(c.Stderr, "%s%s: No such file or directory\n", c.shellPrefix(c.Line), name)
		} else {
			fmt.Fprintf(c.Stderr, "%s%s: command not found\n", c.shellPrefix(c.Line), name)
		}
		return 127
	case "sudo":
		fmt.Fprintf(c.Stderr, "sudo: %s: command not found\n", name)
		return 1
	case "env":
		fmt.Fprintf(c.Stderr, "env: '%s': No such file or directory\n", name)
		return 127
	default:
		fmt.Fprintf(c.Stderr, "%s%s: not found\n", c.shellPrefix(c.Line), name)
		return 127
	}
}

// electionKey marks a context in which a VRRP election runs scripts: their
// commands do not start another election.
type electionKey struct{}

func inElection(ctx context.Context) bool { return ctx.Value(electionKey{}) != nil }

// shell is the sh (dash) and bash program: `-c SCRIPT [NAME ARGS...]`, a
// script file, or a script on stdin.
func shell(ctx context.Context, c *Call) int {
	bash := path.Base(c.Args[0]) == "bash"
	self := "sh"
	if bash {
		self = "bash"
	}
	var opts, params []string
	command, haveScript := false, false
	args := c.Args[1:]
	for len(args) > 0 && len(args[0]) > 1 && (args[0][0] == '-' || args[0][0] == '+') {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		if a == "-o" || a == "+o" {
			if len(args) == 0 {
				fmt.Fprintf(c.Stderr, "%s: 0: %s requires an argument\n", self, a)
				return 2
			}
			if !bash && args[0] == "pipefail" {
				fmt.Fprintf(c.Stderr, "%s: 0: Illegal option -o pipefail\n", self)
				return 2
			}
			opts = append(opts, a, args[0])
			args = args[1:]
			continue
		}
		if strings.Contains(a, "c") && a[0] == '-' {
			command = true
			a = strings.ReplaceAll(a, "c", "")
		}
		// -o NAME may end a group of letters (-euo pipefail).
		if len(a) > 2 && a[len(a)-1] == 'o' {
			args = append([]string{a[:1] + "o"}, args...)
			a = a[:len(a)-1]
			if len(args) > 1 && !bash && args[1] == "pipefail" {
				fmt.Fprintf(c.Stderr, "%s: 0: Illegal option -o pipefail\n", self)
				return 2
			}
			if len(args) > 1 {
				opts = append(opts, args[0], args[1])
				args = args[2:]
			}
		}
		// The interpreter knows -a, -e, -f, -n, -u and -x; a login (-l)
		// or interactive (-i) shell is the same shell here.
		a = a[:1] + strings.Map(func(r rune) rune {
			if strings.ContainsRune("aefnux", r) {
				return r
			}
			return -1
		}, a[1:])
		if len(a) > 1 {
			opts = append(opts, a)
		}
	}
	var script string
	switch {
	case command:
		if len(args) == 0 {
			fmt.Fprintf(c.Stderr, "%s: 0: -c requires an argument\n", self)
			return 2
		}
		script, haveScript = args[0], true
		if len(args) > 1 {
			params = args[2:]
		}
	case len(args) > 0:
		b, err := os.ReadFile(c.Local(args[0]))
		if err != nil {
			fmt.Fprintf(c.Stderr, "%s: 0: cannot open %s: %s\n", self, args[0], describe(err))
			return 2
		}
		script, haveScript, params = string(b), true, args[1:]
	}
	if !haveScript {
		b, _ := io.ReadAll(c.Stdin)
		script = string(b)
	}
	return c.Host.runShell(ctx, c, bash, script, opts, params)
}

// runShell runs script in the interpreter, with the host's files and
// programs.
func (h *Host) runShell(ctx context.Context, c *Call, bash bool, script string, opts, params []string) int {
	lang, self := syntax.LangPOSIX, "sh"
	if bash {
		lang, self = syntax.LangBash, "bash"
	}
	file, err := syntax.NewParser(syntax.Variant(lang)).Parse(strings.NewReader(script), "")
	if err != nil {
		var pe syntax.ParseError
		var le syntax.LangError
		switch {
		case errors.As(err, &pe) && bash:
			fmt.Fprintf(c.Stderr, "bash: -c: line %d: syntax error: %s\n", pe.Pos.Line(), pe.Text)
		case errors.As(err, &pe):
			fmt.Fprintf(c.Stderr, "sh: %d: Syntax error: %s\n", pe.Pos.Line(), pe.Text)
		case errors.As(err, &le):
			fmt.Fprintf(c.Stderr, "sh: %d: Syntax error: %s is not POSIX\n", le.Pos.Line(), le.Feature)
		default:
			fmt.Fprintf(c.Stderr, "%s: %v\n", self, err)
		}
		return 2
	}
	inner := *c
	inner.Shell = self
	// The interpreter wants an *os.File for stdin; it would make a pipe
	// for any other reader and never close it.
	if _, ok := c.Stdin.(*os.File); !ok {
		pr, pw, err := os.Pipe()
		if err != nil {
			fmt.Fprintf(c.Stderr, "%s: pipe: %v\n", self, err)
			return 2
		}
		go func(in io.Reader) {
			if in != nil {
				io.Copy(pw, in)
			}
			pw.Close()
		}(c.Stdin)
		defer pr.Close()
		c = &inner
		c.Stdin = pr
	}
	r, err := interp.New(
		interp.Env(expand.ListEnviron(c.Env...)),
		interp.StdIO(c.Stdin, c.Stdout, c.Stderr),
		interp.OpenHandler(h.openHandler(&inner)),
		interp.StatHandler(h.statHandler()),
		interp.ReadDirHandler2(h.readDirHandler()),
		interp.CallHandler(h.callHandler(&inner, bash)),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc {
			return func(ctx context.Context, args []string) error {
				hc := interp.HandlerCtx(ctx)
				sub := &Call{Host: h, Args: args, Env: exported(hc.Env), Dir: hc.Dir, User: c.User, Shell: self,
					Line: hc.Pos.Line(), Stdin: hc.Stdin, Stdout: hc.Stdout, Stderr: hc.Stderr}
				if status := h.exec(ctx, sub); status != 0 {
					return interp.ExitStatus(uint8(status))
				}
				return nil
			}
		}),
		interp.Params(append(opts, append([]string{"--"}, params...)...)...),
	)
	if err != nil {
		fmt.Fprintf(c.Stderr, "%s: %v\n", self, err)
		return 2
	}
	r.Dir = c.Dir
	err = r.Run(ctx, file)
	if err == nil {
		return 0
	}
	var status interp.ExitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	if ctx.Err() != nil {
		return 130
	}
	fmt.Fprintf(c.Stderr, "%s: %v\n", self, err)
	return 2
}

// exported returns the exported variables of env, "NAME=value".
func exported(env expand.Environ) []string {
	var out []string
	env.Each(func(name string, vr expand.Variable) bool {
		if vr.Exported && vr.IsSet() && vr.Kind == expand.String {
			out = append(out, name+"="+vr.Str)
		}
		return true
	})
	return out
}

// callHandler adjusts the builtins that would reach past the host: it
// runs `command -v`, `type` and `kill` as the host's own, `test -r/-w/-x`
// on the host's files, dash's echo (which reads backslash escapes), and
// refuses `set -o pipefail` in dash as Debian 12's dash does.
func (h *Host) callHandler(c *Call, bash bool) interp.CallHandlerFunc {
	return func(ctx context.Context, args []string) ([]string, error) {
		hc := interp.HandlerCtx(ctx)
		switch args[0] {
		case "command":
			if len(args) > 1 && (args[1] == "-v" || args[1] == "-V") {
				return append([]string{"__hl_command"}, args[1:]...), nil
			}
		case "type", "kill":
			return append([]string{"__hl_" + args[0]}, args[1:]...), nil
		case "echo":
			if !bash {
				return append([]string{"__hl_dash_echo"}, args[1:]...), nil
			}
		case "set":
			if !bash && pipefail(args[1:]) {
				fmt.Fprintf(hc.Stderr, "sh: %d: set: Illegal option -o pipefail\n", hc.Pos.Line())
				return nil, interp.ExitStatus(2)
			}
		case "test", "[":
			if ok, is := h.accessTest(c.User, hc.Dir, args); is {
				if ok {
					return []string{"true"}, nil
				}
				return []string{"false"}, nil
			}
		}
		return args, nil
	}
}

// pipefail reports whether set's arguments turn pipefail on.
func pipefail(args []string) bool {
	for i, a := range args {
		if i+1 < len(args) && args[i+1] == "pipefail" && strings.HasPrefix(a, "-") && strings.HasSuffix(a, "o") {
			return true
		}
	}
	return false
}

// accessTest evaluates `test -r|-w|-x FILE` (and `[ ... ]`) on the host.
func (h *Host) accessTest(user, dir string, args []string) (ok, is bool) {
	a := args[1:]
	if args[0] == "[" {
		if len(a) == 0 || a[len(a)-1] != "]" {
			return false, false
		}
		a = a[:len(a)-1]
	}
	if len(a) != 2 || (a[0] != "-r" && a[0] != "-w" && a[0] != "-x") {
		return false, false
	}
	p := hostPath(dir, a[1])
	fi, err := os.Stat(h.local("/", p))
	if err != nil {
		return false, true
	}
	switch a[0] {
	case "-r":
		return h.readable(user, p), true
	case "-w":
		return h.writable(user, p), true
	default:
		return fi.Mode().Perm()&0o111 != 0, true
	}
}

// loginEnv is the environment of a user's SSH session.
func loginEnv(a account) []string {
	pathVar := "/usr/local/bin:/usr/bin:/bin:/usr/games"
	if a.uid == "0" {
		pathVar = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return []string{"HOME=" + a.home, "USER=" + a.name, "LOGNAME=" + a.name, "SHELL=" + a.shell,
		"PATH=" + pathVar, "LANG=C.UTF-8", "PWD=" + a.home, "UID=" + a.uid, "EUID=" + a.uid, "GID=" + a.gid}
}

// Run runs another program (args[0], found in the PATH) as the caller's
// user, with its environment and directory and the given output.
func (c *Call) Run(ctx context.Context, stdout, stderr io.Writer, args ...string) int {
	sub := c.with(args)
	sub.Stdin, sub.Stdout, sub.Stderr = eofReader{}, stdout, stderr
	return c.Host.exec(ctx, sub)
}
