package host

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// input opens the operand a for reading ("-": stdin), with the user's
// permissions; a failure is reported as "PROG: a: reason".
func input(c *Call, a string) (io.ReadCloser, bool) {
	if a == "-" {
		return io.NopCloser(c.Stdin), true
	}
	p := c.Path(a)
	fail := func(why string) (io.ReadCloser, bool) {
		c.Errorf("%s: %s", a, why)
		return nil, false
	}
	fi, err := os.Stat(c.Local(p))
	switch {
	case err != nil:
		return fail(describe(err))
	case fi.IsDir():
		return fail("Is a directory")
	case !c.Host.readable(c.User, p):
		return fail("Permission denied")
	}
	f, err := os.Open(c.Local(p))
	if err != nil {
		return fail(describe(err))
	}
	return f, true
}

// eachInput calls fn for every operand (stdin when none); it returns 1
// when an operand could not be read.
func eachInput(c *Call, args []string, fn func(name string, r io.Reader)) int {
	if len(args) == 0 {
		args = []string{"-"}
	}
	status := 0
	for _, a := range args {
		r, ok := input(c, a)
		if !ok {
			status = 1
			continue
		}
		fn(a, r)
		r.Close()
	}
	return status
}

// cat [FILE...]
func cat(_ context.Context, c *Call) int {
	_, args, ok := parseFlags(c, c.Args[1:], "uA", "", nil)
	if !ok {
		return 1
	}
	return eachInput(c, args, func(_ string, r io.Reader) { io.Copy(c.Stdout, r) })
}

// tee [-a] [FILE...]
func tee(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "ai", "", map[string]byte{"append": 'a'})
	if !ok {
		return 1
	}
	writers := []io.Writer{c.Stdout}
	status := 0
	for _, a := range args {
		p := c.Path(a)
		flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if f.has('a') {
			flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		if !c.Host.writable(c.User, p) {
			c.Errorf("%s: Permission denied", a)
			status = 1
			continue
		}
		file, err := os.OpenFile(c.Local(p), flag, 0o644)
		if err != nil {
			c.Errorf("%s: %s", a, describe(err))
			status = 1
			continue
		}
		defer file.Close()
		writers = append(writers, file)
	}
	io.Copy(io.MultiWriter(writers...), c.Stdin)
	return status
}

// lineCount reads head's and tail's -n N (or the obsolete -N).
func lineCount(c *Call) (int, []string, bool) {
	args := c.Args[1:]
	if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && args[0][1] >= '0' && args[0][1] <= '9' {
		n, _ := strconv.Atoi(args[0][1:])
		return n, args[1:], true
	}
	f, args, ok := parseFlags(c, args, "nqc", "nc", map[string]byte{"lines": 'n'})
	if !ok {
		return 0, nil, false
	}
	n := 10
	if v, ok := f['n']; ok {
		var err error
		if n, err = strconv.Atoi(strings.TrimPrefix(v, "+")); err != nil {
			c.Errorf("invalid number of lines: ‘%s’", v)
			return 0, nil, false
		}
	}
	return n, args, true
}

// head [-n N] [FILE...]
func head(_ context.Context, c *Call) int {
	n, args, ok := lineCount(c)
	if !ok {
		return 1
	}
	return eachInput(c, args, func(_ string, r io.Reader) {
		s := bufio.NewScanner(r)
		for i := 0; i < n && s.Scan(); i++ {
			fmt.Fprintln(c.Stdout, s.Text())
		}
	})
}

// tail [-n N] [FILE...]
func tail(_ context.Context, c *Call) int {
	n, args, ok := lineCount(c)
	if !ok {
		return 1
	}
	return eachInput(c, args, func(_ string, r io.Reader) {
		b, _ := io.ReadAll(r)
		lines := strings.SplitAfter(string(b), "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprint(c.Stdout, strings.Join(lines, ""))
	})
}

// wc [-l|-w|-c] [FILE...]
func wc(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "lwcm", "", nil)
	if !ok {
		return 1
	}
	return eachInput(c, args, func(name string, r io.Reader) {
		b, _ := io.ReadAll(r)
		counts := map[byte]int{'l': bytes.Count(b, []byte("\n")), 'w': len(bytes.Fields(b)), 'c': len(b), 'm': len([]rune(string(b)))}
		var out []string
		for _, k := range []byte("lwcm") {
			if f.has(k) || (len(f) == 0 && k != 'm') {
				out = append(out, strconv.Itoa(counts[k]))
			}
		}
		if name != "-" {
			out = append(out, name)
		}
		fmt.Fprintln(c.Stdout, strings.Join(out, " "))
	})
}

// basicRegexp converts a POSIX basic regular expression to Go's syntax.
func basicRegexp(re string) string {
	var b strings.Builder
	for i := 0; i < len(re); i++ {
		ch := re[i]
		switch {
		case ch == '\\' && i+1 < len(re) && strings.IndexByte("(){}|+?", re[i+1]) >= 0:
			i++
			b.WriteByte(re[i])
		case strings.IndexByte("(){}|+?", ch) >= 0:
			b.WriteByte('\\')
			b.WriteByte(ch)
		case ch == '[':
			j := i + 1
			if j < len(re) && re[j] == '^' {
				j++
			}
			if j < len(re) && re[j] == ']' {
				j++
			}
			for j < len(re) && re[j] != ']' {
				if re[j] == '[' && j+1 < len(re) && re[j+1] == ':' {
					if k := strings.Index(re[j:], ":]"); k > 0 {
						j += k + 1
					}
				}
				j++
			}
			if j >= len(re) {
				b.WriteString(re[i:])
				return b.String()
			}
			b.WriteString(re[i : j+1])
			i = j
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// compileRegexp compiles a grep or sed pattern.
func compileRegexp(pattern string, extended, fixed, fold, whole bool) (*regexp.Regexp, error) {
	switch {
	case fixed:
		pattern = regexp.QuoteMeta(pattern)
	case !extended:
		pattern = basicRegexp(pattern)
	}
	if whole {
		pattern = "^(?:" + pattern + ")$"
	}
	if fold {
		pattern = "(?i)" + pattern
	}
	return regexp.Compile(pattern)
}

// grep [-qvicnxEFhs] [-e PATTERN] PATTERN [FILE...]
func grep(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "qvicnxEFhHswe", "e", map[string]byte{"quiet": 'q', "invert-match": 'v', "count": 'c', "extended-regexp": 'E', "fixed-strings": 'F'})
	if !ok {
		return 2
	}
	pattern, given := f['e']
	if !given {
		if len(args) == 0 {
			fmt.Fprintln(c.Stderr, "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.")
			return 2
		}
		pattern, args = args[0], args[1:]
	}
	re, err := compileRegexp(pattern, f.has('E'), f.has('F'), f.has('i'), f.has('x'))
	if err != nil {
		fmt.Fprintf(c.Stderr, "grep: %v\n", err)
		return 2
	}
	matched, status := false, 0
	prefix := len(args) > 1 && !f.has('h') || f.has('H')
	if len(args) == 0 {
		args = []string{"-"}
	}
	for _, a := range args {
		r, ok := input(c, a)
		if !ok {
			status = 2
			continue
		}
		s := bufio.NewScanner(r)
		s.Buffer(make([]byte, 64<<10), 16<<20)
		count := 0
		for n := 1; s.Scan(); n++ {
			line := s.Text()
			if re.MatchString(line) == f.has('v') {
				continue
			}
			matched = true
			count++
			if f.has('q') {
				r.Close()
				return 0
			}
			if f.has('c') {
				continue
			}
			out := line
			if f.has('n') {
				out = strconv.Itoa(n) + ":" + out
			}
			if prefix {
				out = a + ":" + out
			}
			fmt.Fprintln(c.Stdout, out)
		}
		r.Close()
		if f.has('c') {
			if prefix {
				fmt.Fprintf(c.Stdout, "%s:%d\n", a, count)
			} else {
				fmt.Fprintln(c.Stdout, count)
			}
		}
	}
	switch {
	case status != 0 && !matched:
		return status
	case matched:
		return 0
	}
	return 1
}

// sha256sum [FILE...]
func sha256sum(_ context.Context, c *Call) int {
	_, args, ok := parseFlags(c, c.Args[1:], "bt", "", nil)
	if !ok {
		return 1
	}
	return eachInput(c, args, func(name string, r io.Reader) {
		h := sha256.New()
		io.Copy(h, r)
		fmt.Fprintf(c.Stdout, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), name)
	})
}
