package sshd

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Builtin returns a Handler that understands a small shell: commands joined
// by `&&` or `;`, POSIX quoting, `sudo [-n] sh -c SCRIPT` (run as the script),
// and the file commands a provisioning client needs, applied under the
// host's Root: true, false, exit, echo, cat, tee, install, mv, cp, rm, mkdir,
// chmod, chown, stat -c, test -e/-f/-d, sha256sum. Owners set by chown or
// install -o/-g are remembered per file (they follow renames) and reported
// by stat; other files belong to root.
//
// A command line that uses anything else is passed unchanged to next; with
// next nil it fails with status 127 ("command not found").
func Builtin(next Handler) Handler {
	sh := &shell{}
	return func(ctx context.Context, s Session) int {
		script, err := unwrapSudo(s.Command)
		if err == nil {
			var cmds [][]string
			if cmds, err = parseScript(script); err == nil {
				for _, c := range cmds {
					if sh.builtin(c[0]) == nil {
						err = fmt.Errorf("%s: command not found", c[0])
						break
					}
				}
				if err == nil {
					return sh.run(ctx, s, cmds)
				}
			}
		}
		if next != nil {
			return next(ctx, s)
		}
		fmt.Fprintf(s.Stderr, "sh: %v\n", err)
		return 127
	}
}

// unwrapSudo turns `sudo -n sh -c 'X'` (or `sh -c 'X'`) into X.
func unwrapSudo(cmd string) (string, error) {
	words, err := splitWords(cmd)
	if err != nil {
		return "", err
	}
	if len(words) > 0 && words[0] == "sudo" {
		words = words[1:]
		for len(words) > 0 && strings.HasPrefix(words[0], "-") {
			words = words[1:]
		}
		if len(words) == 3 && words[0] == "sh" && words[1] == "-c" {
			return unwrapSudo(words[2])
		}
		return strings.Join(quoteAll(words), " "), nil
	}
	if len(words) == 3 && words[0] == "sh" && words[1] == "-c" {
		return unwrapSudo(words[2])
	}
	return cmd, nil
}

func quoteAll(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return out
}

// parseScript splits a script into simple commands at top-level `&&`, `;`
// and newlines. (`&&` and `;` are treated alike: a failure stops the run.)
func parseScript(script string) ([][]string, error) {
	var cmds [][]string
	var cur []byte
	flush := func() error {
		ws, err := splitWords(string(cur))
		if err != nil {
			return err
		}
		if len(ws) > 0 {
			cmds = append(cmds, ws)
		}
		cur = cur[:0]
		return nil
	}
	quote := byte(0)
	for i := 0; i < len(script); i++ {
		c := script[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(script) {
				cur = append(cur, c)
				i++
				c = script[i]
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '\\' && i+1 < len(script):
			cur = append(cur, c)
			i++
			c = script[i]
		case c == ';' || c == '\n':
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		case c == '&' && i+1 < len(script) && script[i+1] == '&':
			if err := flush(); err != nil {
				return nil, err
			}
			i++
			continue
		case c == '|' || c == '>' || c == '<' || c == '`' || c == '$' || c == '&':
			return nil, fmt.Errorf("unsupported shell syntax %q", c)
		}
		cur = append(cur, c)
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(cmds) == 0 {
		cmds = append(cmds, []string{"true"})
	}
	return cmds, nil
}

// splitWords splits one command into words with POSIX quoting rules
// (single quotes, double quotes with \ escapes, backslash outside quotes).
func splitWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					w.WriteByte(s[i])
				}
			}
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

type builtinFunc func(ctx context.Context, s Session, args []string) int

// builtin returns the built-in command called name, or nil.
func (sh *shell) builtin(name string) builtinFunc {
	switch name {
	case "chown":
		return sh.chown
	case "stat":
		return sh.stat
	case "install":
		return func(ctx context.Context, s Session, a []string) int { return biInstall(s, a, sh) }
	case "true":
		return func(context.Context, Session, []string) int { return 0 }
	case "false":
		return func(context.Context, Session, []string) int { return 1 }
	case "exit":
		return func(_ context.Context, _ Session, a []string) int {
			if len(a) == 0 {
				return 0
			}
			n, _ := strconv.Atoi(a[0])
			return n
		}
	case "echo":
		return func(_ context.Context, s Session, a []string) int {
			fmt.Fprintln(s.Stdout, strings.Join(a, " "))
			return 0
		}
	case "cat":
		return biCat
	case "tee":
		return biTee
	case "mv":
		return biMv
	case "cp":
		return biCp
	case "rm":
		return biRm
	case "mkdir":
		return biMkdir
	case "chmod":
		return biChmod
	case "test":
		return biTest
	case "sha256sum":
		return biSha256
	}
	return nil
}

func (sh *shell) run(ctx context.Context, s Session, cmds [][]string) int {
	for _, c := range cmds {
		if ctx.Err() != nil {
			return 130
		}
		if st := sh.builtin(c[0])(ctx, s, c[1:]); st != 0 || c[0] == "exit" {
			return st
		}
	}
	return 0
}

func under(s Session, p string) string {
	return filepath.Join(s.Root, filepath.FromSlash(path.Clean("/"+p)))
}

// flags splits leading single-letter options (with values for the letters
// in withValue) from operands.
func flags(args []string, withValue string) (map[byte]string, []string) {
	opts := map[byte]string{}
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		for i := 1; i < len(a); i++ {
			if strings.IndexByte(withValue, a[i]) >= 0 {
				v := a[i+1:]
				if v == "" && len(args) > 0 {
					v, args = args[0], args[1:]
				}
				opts[a[i]] = v
				break
			}
			opts[a[i]] = ""
		}
	}
	return opts, args
}

func fail(s Session, name string, err error) int {
	fmt.Fprintf(s.Stderr, "%s: %v\n", name, err)
	return 1
}

func biCat(_ context.Context, s Session, a []string) int {
	_, a = flags(a, "")
	if len(a) == 0 {
		io.Copy(s.Stdout, s.Stdin)
		return 0
	}
	for _, p := range a {
		b, err := os.ReadFile(under(s, p))
		if err != nil {
			return fail(s, "cat", fmt.Errorf("%s: No such file or directory", p))
		}
		s.Stdout.Write(b)
	}
	return 0
}

func biTee(_ context.Context, s Session, a []string) int {
	_, a = flags(a, "")
	b, _ := io.ReadAll(s.Stdin)
	for _, p := range a {
		if err := os.WriteFile(under(s, p), b, 0o644); err != nil {
			return fail(s, "tee", err)
		}
	}
	s.Stdout.Write(b)
	return 0
}

func biInstall(s Session, a []string, sh *shell) int {
	o, a := flags(a, "mog")
	if len(a) != 2 {
		return fail(s, "install", errors.New("want SOURCE DEST"))
	}
	mode := os.FileMode(0o755)
	if m, ok := o['m']; ok {
		v, err := strconv.ParseUint(m, 8, 32)
		if err != nil {
			return fail(s, "install", fmt.Errorf("invalid mode %q", m))
		}
		mode = os.FileMode(v)
	}
	b, err := os.ReadFile(under(s, a[0]))
	if err != nil {
		return fail(s, "install", err)
	}
	dst := under(s, a[1])
	if _, ok := o['D']; ok {
		os.MkdirAll(filepath.Dir(dst), 0o755)
	}
	os.Remove(dst)
	if err := os.WriteFile(dst, b, mode); err != nil {
		return fail(s, "install", err)
	}
	if err := os.Chmod(dst, mode); err != nil {
		return fail(s, "install", err)
	}
	if o['o'] != "" || o['g'] != "" {
		sh.SetOwner(dst, o['o'], o['g'])
	}
	return 0
}

func biMv(_ context.Context, s Session, a []string) int {
	_, a = flags(a, "")
	if len(a) != 2 {
		return fail(s, "mv", errors.New("want SOURCE DEST"))
	}
	if err := os.Rename(under(s, a[0]), under(s, a[1])); err != nil {
		return fail(s, "mv", err)
	}
	return 0
}

func biCp(_ context.Context, s Session, a []string) int {
	_, a = flags(a, "")
	if len(a) != 2 {
		return fail(s, "cp", errors.New("want SOURCE DEST"))
	}
	b, err := os.ReadFile(under(s, a[0]))
	if err == nil {
		err = os.WriteFile(under(s, a[1]), b, 0o644)
	}
	if err != nil {
		return fail(s, "cp", err)
	}
	return 0
}

func biRm(_ context.Context, s Session, a []string) int {
	o, a := flags(a, "")
	_, force := o['f']
	_, rec := o['r']
	var paths []string
	for _, p := range a {
		if !strings.Contains(p, "*") {
			paths = append(paths, p)
			continue
		}
		// A glob (no quoting is known here: any * is a pattern).
		matches, _ := filepath.Glob(under(s, p))
		for _, m := range matches {
			rel, err := filepath.Rel(s.Root, m)
			if err == nil {
				paths = append(paths, "/"+filepath.ToSlash(rel))
			}
		}
	}
	for _, p := range paths {
		var err error
		if rec {
			err = os.RemoveAll(under(s, p))
		} else {
			err = os.Remove(under(s, p))
		}
		if err != nil && !(force && errors.Is(err, os.ErrNotExist)) {
			return fail(s, "rm", err)
		}
	}
	return 0
}

func biMkdir(_ context.Context, s Session, a []string) int {
	o, a := flags(a, "m")
	_, parents := o['p']
	for _, p := range a {
		var err error
		if parents {
			err = os.MkdirAll(under(s, p), 0o755)
		} else {
			err = os.Mkdir(under(s, p), 0o755)
		}
		if err != nil {
			return fail(s, "mkdir", err)
		}
	}
	return 0
}

func biChmod(_ context.Context, s Session, a []string) int {
	if len(a) < 2 {
		return fail(s, "chmod", errors.New("want a MODE and one or more FILEs"))
	}
	v, err := strconv.ParseUint(a[0], 8, 32)
	if err != nil {
		return fail(s, "chmod", fmt.Errorf("invalid mode %q", a[0]))
	}
	for _, p := range a[1:] {
		if err := os.Chmod(under(s, p), os.FileMode(v)); err != nil {
			return fail(s, "chmod", err)
		}
	}
	return 0
}

func biTest(_ context.Context, s Session, a []string) int {
	if len(a) != 2 {
		return 2
	}
	fi, err := os.Stat(under(s, a[1]))
	switch {
	case err != nil:
		return 1
	case a[0] == "-e", a[0] == "-f" && fi.Mode().IsRegular(), a[0] == "-d" && fi.IsDir():
		return 0
	}
	return 1
}

func biSha256(_ context.Context, s Session, a []string) int {
	_, a = flags(a, "")
	for _, p := range a {
		b, err := os.ReadFile(under(s, p))
		if err != nil {
			return fail(s, "sha256sum", fmt.Errorf("%s: No such file or directory", p))
		}
		fmt.Fprintf(s.Stdout, "%x  %s\n", sha256.Sum256(b), p)
	}
	return 0
}
