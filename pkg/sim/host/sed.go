package host

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// sedCommand is one command of a sed script: an optional address (a line
// number, $ or /regexp/) and s, d or p.
type sedCommand struct {
	line   int // 0: none; -1: $
	match  *regexp.Regexp
	cmd    byte
	re     *regexp.Regexp
	repl   string
	global bool
	print  bool
}

// parseSed reads a script of commands separated by ";" or newlines.
func parseSed(script string, extended bool, expr int) ([]sedCommand, error) {
	var cmds []sedCommand
	i := 0
	fail := func(format string, a ...any) ([]sedCommand, error) {
		return nil, fmt.Errorf("-e expression #%d, char %d: %s", expr, i+1, fmt.Sprintf(format, a...))
	}
	// field reads up to the unescaped delimiter d.
	field := func(d byte) (string, bool) {
		var b strings.Builder
		for ; i < len(script); i++ {
			if script[i] == '\\' && i+1 < len(script) {
				if script[i+1] == d {
					b.WriteByte(d)
				} else {
					b.WriteString(script[i : i+2])
				}
				i++
				continue
			}
			if script[i] == d {
				i++
				return b.String(), true
			}
			b.WriteByte(script[i])
		}
		return "", false
	}
	for i < len(script) {
		for i < len(script) && strings.IndexByte(" \t\n;", script[i]) >= 0 {
			i++
		}
		if i == len(script) {
			break
		}
		var c sedCommand
		switch ch := script[i]; {
		case ch >= '0' && ch <= '9':
			j := i
			for j < len(script) && script[j] >= '0' && script[j] <= '9' {
				j++
			}
			c.line, _ = strconv.Atoi(script[i:j])
			i = j
		case ch == '$':
			c.line = -1
			i++
		case ch == '/':
			i++
			pat, ok := field('/')
			if !ok {
				return fail("unterminated address regex")
			}
			re, err := compileRegexp(pat, extended, false, false, false)
			if err != nil {
				return fail("%v", err)
			}
			c.match = re
		}
		if i == len(script) {
			return fail("missing command")
		}
		c.cmd = script[i]
		i++
		switch c.cmd {
		case 'd', 'p':
		case 's':
			if i == len(script) {
				return fail("unterminated `s' command")
			}
			d := script[i]
			i++
			pat, ok1 := field(d)
			repl, ok2 := field(d)
			if !ok1 || !ok2 {
				return fail("unterminated `s' command")
			}
			fold := false
			for i < len(script) && strings.IndexByte("gpI", script[i]) >= 0 {
				switch script[i] {
				case 'g':
					c.global = true
				case 'p':
					c.print = true
				case 'I':
					fold = true
				}
				i++
			}
			re, err := compileRegexp(pat, extended, false, fold, false)
			if err != nil {
				return fail("%v", err)
			}
			c.re, c.repl = re, repl
		default:
			i--
			return fail("unknown command: `%c'", c.cmd)
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

// expand builds a replacement: & is the match, \1..\9 its groups, \n a
// newline.
func (c sedCommand) expand(line string, m []int) string {
	var b strings.Builder
	for i := 0; i < len(c.repl); i++ {
		ch := c.repl[i]
		switch {
		case ch == '&':
			b.WriteString(line[m[0]:m[1]])
		case ch == '\\' && i+1 < len(c.repl):
			i++
			n := c.repl[i]
			switch {
			case n >= '1' && n <= '9' && int(n-'0')*2+1 < len(m) && m[int(n-'0')*2] >= 0:
				g := int(n - '0')
				b.WriteString(line[m[2*g]:m[2*g+1]])
			case n == 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(n)
			}
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// run applies the script to text.
func runSed(cmds []sedCommand, text string, quiet bool) string {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var out strings.Builder
	for n, raw := range lines {
		line, nl := strings.CutSuffix(raw, "\n")
		deleted := false
		for _, c := range cmds {
			if c.line > 0 && c.line != n+1 || c.line == -1 && n != len(lines)-1 || c.match != nil && !c.match.MatchString(line) {
				continue
			}
			switch c.cmd {
			case 'd':
				deleted = true
			case 'p':
				out.WriteString(line + "\n")
			case 's':
				matches := c.re.FindAllStringSubmatchIndex(line, -1)
				if len(matches) == 0 {
					continue
				}
				if !c.global {
					matches = matches[:1]
				}
				var b strings.Builder
				last := 0
				for _, m := range matches {
					b.WriteString(line[last:m[0]])
					b.WriteString(c.expand(line, m))
					last = m[1]
				}
				b.WriteString(line[last:])
				line = b.String()
				if c.print {
					out.WriteString(line + "\n")
				}
			}
			if deleted {
				break
			}
		}
		if deleted || quiet {
			continue
		}
		out.WriteString(line)
		if nl {
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// sed [-n] [-E|-r] [-i[SUFFIX]] [-e SCRIPT]... [SCRIPT] [FILE...]: the s, d
// and p commands with line, $ and /regexp/ addresses.
func sed(_ context.Context, c *Call) int {
	args := c.Args[1:]
	var scripts []string
	quiet, extended, inPlace := false, false, false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		a := args[0]
		args = args[1:]
		switch {
		case a == "--":
		case a == "-e" || a == "--expression":
			if len(args) == 0 {
				fmt.Fprintln(c.Stderr, "sed: option requires an argument -- 'e'")
				return 1
			}
			scripts, args = append(scripts, args[0]), args[1:]
		case strings.HasPrefix(a, "-i") || strings.HasPrefix(a, "--in-place"):
			inPlace = true
		case a == "-n" || a == "--quiet":
			quiet = true
		case a == "-E" || a == "-r":
			extended = true
		case strings.Trim(a[1:], "nEr") == "":
			quiet = quiet || strings.Contains(a, "n")
			extended = extended || strings.ContainsAny(a, "Er")
		default:
			fmt.Fprintf(c.Stderr, "sed: invalid option -- '%s'\n", strings.TrimLeft(a, "-"))
			return 1
		}
		if a == "--" {
			break
		}
	}
	if len(scripts) == 0 {
		if len(args) == 0 {
			fmt.Fprintln(c.Stderr, "Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...")
			return 1
		}
		scripts, args = []string{args[0]}, args[1:]
	}
	var cmds []sedCommand
	for n, s := range scripts {
		more, err := parseSed(s, extended, n+1)
		if err != nil {
			fmt.Fprintf(c.Stderr, "sed: %v\n", err)
			return 1
		}
		cmds = append(cmds, more...)
	}
	if inPlace {
		if len(args) == 0 {
			fmt.Fprintln(c.Stderr, "sed: no input files")
			return 1
		}
		status := 0
		for _, a := range args {
			p := c.Path(a)
			b, err := os.ReadFile(c.Local(p))
			if err != nil {
				fmt.Fprintf(c.Stderr, "sed: can't read %s: %s\n", a, describe(err))
				status = 2
				continue
			}
			if !c.Host.writable(c.User, p) {
				fmt.Fprintf(c.Stderr, "sed: couldn't open temporary file %s: Permission denied\n", p+".sedtmp")
				return 4
			}
			fi, _ := os.Stat(c.Local(p))
			if err := os.WriteFile(c.Local(p), []byte(runSed(cmds, string(b), quiet)), fi.Mode().Perm()); err != nil {
				fmt.Fprintf(c.Stderr, "sed: couldn't edit %s: %s\n", a, describe(err))
				return 4
			}
		}
		return status
	}
	var text strings.Builder
	status := eachInput(c, args, func(_ string, r io.Reader) { io.Copy(&text, r) })
	if status != 0 {
		status = 2
	}
	fmt.Fprint(c.Stdout, runSed(cmds, text.String(), quiet))
	return status
}
