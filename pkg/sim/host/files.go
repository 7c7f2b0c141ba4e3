package host

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// flagSet is what parseFlags found: each option letter given, with its
// value for those that take one.
type flagSet map[byte]string

func (f flagSet) has(b byte) bool { _, ok := f[b]; return ok }

// parseFlags reads GNU-style short options ("-pf", "-m 0644", "-m0644"),
// the long ones in long (each mapped to a letter), and "--". known lists
// the letters allowed; valued those that take a value. It stops at the
// first operand.
func parseFlags(c *Call, args []string, known, valued string, long map[string]byte) (flagSet, []string, bool) {
	name := path.Base(c.Args[0])
	set := flagSet{}
	bad := func(format string, a ...any) (flagSet, []string, bool) {
		fmt.Fprintf(c.Stderr, "%s: %s\nTry '%s --help' for more information.\n", name, fmt.Sprintf(format, a...), name)
		return nil, nil, false
	}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return set, args[1:], true
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		args = args[1:]
		if strings.HasPrefix(a, "--") {
			key, val, hasVal := strings.Cut(a[2:], "=")
			b, ok := long[key]
			if !ok {
				return bad("unrecognized option '%s'", a)
			}
			if strings.IndexByte(valued, b) >= 0 && !hasVal {
				if len(args) == 0 {
					return bad("option '--%s' requires an argument", key)
				}
				val, args = args[0], args[1:]
			}
			set[b] = val
			continue
		}
		for i := 1; i < len(a); i++ {
			b := a[i]
			if strings.IndexByte(known, b) < 0 {
				return bad("invalid option -- '%c'", b)
			}
			if strings.IndexByte(valued, b) >= 0 {
				val := a[i+1:]
				if val == "" {
					if len(args) == 0 {
						return bad("option requires an argument -- '%c'", b)
					}
					val, args = args[0], args[1:]
				}
				set[b] = val
				break
			}
			set[b] = ""
		}
	}
	return set, args, true
}

// missingOperand reports a program run without its operands.
func missingOperand(c *Call) int {
	name := path.Base(c.Args[0])
	fmt.Fprintf(c.Stderr, "%s: missing operand\nTry '%s --help' for more information.\n", name, name)
	return 1
}

// mkdir [-p] [-m MODE] DIR...
func mkdir(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "pm", "m", map[string]byte{"parents": 'p', "mode": 'm'})
	if !ok {
		return 1
	}
	if len(args) == 0 {
		return missingOperand(c)
	}
	mode := os.FileMode(0o755)
	if m, ok := f['m']; ok {
		n, err := strconv.ParseUint(m, 8, 32)
		if err != nil {
			fmt.Fprintf(c.Stderr, "mkdir: invalid mode ‘%s’\n", m)
			return 1
		}
		mode = os.FileMode(n)
	}
	status := 0
	for _, d := range args {
		p := c.Path(d)
		var err error
		switch {
		case !c.Host.writable(c.User, p):
			err = fs.ErrPermission
		case f.has('p'):
			err = os.MkdirAll(c.Local(p), mode)
		default:
			err = os.Mkdir(c.Local(p), mode)
		}
		if err != nil {
			fmt.Fprintf(c.Stderr, "mkdir: cannot create directory ‘%s’: %s\n", d, describe(err))
			status = 1
			continue
		}
		if !c.Root() {
			c.Host.owners.SetOwner(c.Local(p), c.User, c.User)
		}
	}
	return status
}

// rm [-f] [-r] FILE...
func rm(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "frRv", "", map[string]byte{"force": 'f', "recursive": 'r'})
	if !ok {
		return 1
	}
	if len(args) == 0 && !f.has('f') {
		return missingOperand(c)
	}
	status := 0
	for _, a := range args {
		p := c.Path(a)
		fi, err := os.Lstat(c.Local(p))
		switch {
		case err != nil && f.has('f'):
			continue
		case err != nil:
		case fi.IsDir() && !f.has('r') && !f.has('R'):
			fmt.Fprintf(c.Stderr, "rm: cannot remove '%s': Is a directory\n", a)
			status = 1
			continue
		case !c.Host.writable(c.User, path.Dir(p)) && !c.Host.writable(c.User, p):
			err = fs.ErrPermission
		case fi.IsDir():
			err = os.RemoveAll(c.Local(p))
		default:
			err = os.Remove(c.Local(p))
		}
		if err != nil {
			fmt.Fprintf(c.Stderr, "rm: cannot remove '%s': %s\n", a, describe(err))
			status = 1
		}
	}
	return status
}

// target returns where SRC goes for `mv/cp/install SRC DST`: into DST when
// it is a directory.
func target(c *Call, src, dst string) string {
	p := c.Path(dst)
	if fi, err := os.Stat(c.Local(p)); err == nil && fi.IsDir() {
		return path.Join(p, path.Base(src))
	}
	return p
}

// mv [-f] SRC DST
func mv(_ context.Context, c *Call) int {
	_, args, ok := parseFlags(c, c.Args[1:], "fTnv", "", map[string]byte{"force": 'f'})
	if !ok {
		return 1
	}
	if len(args) < 2 {
		return missingOperand(c)
	}
	dst := args[len(args)-1]
	status := 0
	for _, src := range args[:len(args)-1] {
		sp, tp := c.Path(src), target(c, src, dst)
		if _, err := os.Lstat(c.Local(sp)); err != nil {
			fmt.Fprintf(c.Stderr, "mv: cannot stat '%s': %s\n", src, describe(err))
			status = 1
			continue
		}
		if !c.Host.writable(c.User, tp) || !c.Host.writable(c.User, sp) {
			fmt.Fprintf(c.Stderr, "mv: cannot move '%s' to '%s': Permission denied\n", src, tp)
			status = 1
			continue
		}
		if err := os.Rename(c.Local(sp), c.Local(tp)); err != nil {
			fmt.Fprintf(c.Stderr, "mv: cannot move '%s' to '%s': %s\n", src, tp, describe(err))
			status = 1
		}
	}
	return status
}

// copyFile copies the local file src to dst with mode.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	os.Remove(dst)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// cp [-f] [-p|-a] SRC DST
func cp(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "fparRTv", "", map[string]byte{"force": 'f', "archive": 'a', "preserve": 'p'})
	if !ok {
		return 1
	}
	if len(args) < 2 {
		return missingOperand(c)
	}
	dst := args[len(args)-1]
	status := 0
	for _, src := range args[:len(args)-1] {
		sp, tp := c.Path(src), target(c, src, dst)
		fi, err := os.Stat(c.Local(sp))
		switch {
		case err != nil:
			fmt.Fprintf(c.Stderr, "cp: cannot stat '%s': %s\n", src, describe(err))
			status = 1
			continue
		case fi.IsDir():
			fmt.Fprintf(c.Stderr, "cp: -r not specified; omitting directory '%s'\n", src)
			status = 1
			continue
		case !c.Host.readable(c.User, sp):
			fmt.Fprintf(c.Stderr, "cp: cannot open '%s' for reading: Permission denied\n", src)
			status = 1
			continue
		case !c.Host.writable(c.User, tp):
			fmt.Fprintf(c.Stderr, "cp: cannot create regular file '%s': Permission denied\n", tp)
			status = 1
			continue
		}
		if err := copyFile(c.Local(sp), c.Local(tp), fi.Mode().Perm()); err != nil {
			fmt.Fprintf(c.Stderr, "cp: cannot create regular file '%s': %s\n", tp, describe(err))
			status = 1
			continue
		}
		if f.has('p') || f.has('a') {
			u, g := c.Host.owners.Owner(fi)
			c.Host.owners.SetOwner(c.Local(tp), u, g)
		} else if !c.Root() {
			c.Host.owners.SetOwner(c.Local(tp), c.User, c.User)
		}
	}
	return status
}

// touch FILE...
func touch(_ context.Context, c *Call) int {
	_, args, ok := parseFlags(c, c.Args[1:], "acm", "", nil)
	if !ok {
		return 1
	}
	if len(args) == 0 {
		return missingOperand(c)
	}
	status := 0
	for _, a := range args {
		p := c.Path(a)
		if !c.Host.writable(c.User, p) {
			fmt.Fprintf(c.Stderr, "touch: cannot touch '%s': Permission denied\n", a)
			status = 1
			continue
		}
		f, err := os.OpenFile(c.Local(p), os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(c.Stderr, "touch: cannot touch '%s': %s\n", a, describe(err))
			status = 1
			continue
		}
		f.Close()
	}
	return status
}

// ls [-l] [-a] [-1] [PATH...]
func ls(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "la1Ad", "", nil)
	if !ok {
		return 2
	}
	if len(args) == 0 {
		args = []string{"."}
	}
	status := 0
	for _, a := range args {
		lp := c.Local(a)
		fi, err := os.Stat(lp)
		if err != nil {
			fmt.Fprintf(c.Stderr, "ls: cannot access '%s': %s\n", a, describe(err))
			status = 2
			continue
		}
		var names []string
		infos := map[string]os.FileInfo{}
		if fi.IsDir() && !f.has('d') {
			entries, _ := os.ReadDir(lp)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") && !f.has('a') && !f.has('A') {
					continue
				}
				if info, err := e.Info(); err == nil {
					names = append(names, e.Name())
					infos[e.Name()] = info
				}
			}
		} else {
			names, infos[a] = []string{a}, fi
		}
		sort.Strings(names)
		for _, n := range names {
			if f.has('l') {
				info := infos[n]
				u, g := c.Host.owners.Owner(info)
				fmt.Fprintf(c.Stdout, "%s 1 %s %s %d %s %s\n", info.Mode().String(), u, g, info.Size(), info.ModTime().Format("Jan _2 15:04"), n)
			} else {
				fmt.Fprintln(c.Stdout, n)
			}
		}
	}
	return status
}
