package host

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/homelabctl/homelab/pkg/sim/sshd"
)

// parseMode applies a chmod mode (octal, or symbolic like u+x,go-w) to old.
func parseMode(mode string, old os.FileMode) (os.FileMode, bool) {
	if n, err := strconv.ParseUint(mode, 8, 32); err == nil {
		return os.FileMode(n) & os.ModePerm, true
	}
	m := old.Perm()
	for _, clause := range strings.Split(mode, ",") {
		i := strings.IndexAny(clause, "+-=")
		if i < 0 {
			return 0, false
		}
		who, op, perms := clause[:i], clause[i], clause[i+1:]
		if who == "" || who == "a" {
			who = "ugo"
		}
		var bits os.FileMode
		for _, p := range perms {
			switch p {
			case 'r':
				bits |= 0o444
			case 'w':
				bits |= 0o222
			case 'x':
				bits |= 0o111
			default:
				return 0, false
			}
		}
		var mask os.FileMode
		for _, w := range who {
			switch w {
			case 'u':
				mask |= 0o700
			case 'g':
				mask |= 0o070
			case 'o':
				mask |= 0o007
			default:
				return 0, false
			}
		}
		switch op {
		case '+':
			m |= bits & mask
		case '-':
			m &^= bits & mask
		case '=':
			m = m&^mask | bits&mask
		}
	}
	return m, true
}

// chmod MODE FILE...
func chmod(_ context.Context, c *Call) int {
	args := c.Args[1:]
	if len(args) > 0 && (args[0] == "-R" || args[0] == "--") {
		args = args[1:]
	}
	if len(args) < 2 {
		return missingOperand(c)
	}
	status := 0
	for _, a := range args[1:] {
		p := c.Path(a)
		fi, err := os.Stat(c.Local(p))
		if err != nil {
			fmt.Fprintf(c.Stderr, "chmod: cannot access '%s': %s\n", a, describe(err))
			status = 1
			continue
		}
		mode, ok := parseMode(args[0], fi.Mode())
		if !ok {
			fmt.Fprintf(c.Stderr, "chmod: invalid mode: ‘%s’\nTry 'chmod --help' for more information.\n", args[0])
			return 1
		}
		if u, _ := c.Host.owners.Owner(fi); !c.Root() && u != c.User {
			fmt.Fprintf(c.Stderr, "chmod: changing permissions of '%s': Operation not permitted\n", a)
			status = 1
			continue
		}
		if err := os.Chmod(c.Local(p), mode); err != nil {
			fmt.Fprintf(c.Stderr, "chmod: changing permissions of '%s': %s\n", a, describe(err))
			status = 1
		}
	}
	return status
}

// knownUser and knownGroup look names up in /etc/passwd and /etc/group.
func (h *Host) knownUser(name string) bool { _, ok := h.account(name); return ok }

func (h *Host) knownGroup(name string) bool {
	b, err := h.readFile("/etc/group")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if g, _, ok := strings.Cut(line, ":"); ok && g == name {
			return true
		}
	}
	return false
}

// checkOwner validates "USER[:GROUP]" as chown and install do.
func checkOwner(c *Call, user, group string) bool {
	name := path.Base(c.Args[0])
	if user != "" && !c.Host.knownUser(user) {
		fmt.Fprintf(c.Stderr, "%s: invalid user: ‘%s’\n", name, user)
		return false
	}
	if group != "" && !c.Host.knownGroup(group) {
		fmt.Fprintf(c.Stderr, "%s: invalid group: ‘%s’\n", name, group)
		return false
	}
	return true
}

// chown [-R] USER[:GROUP] FILE...
func chown(_ context.Context, c *Call) int {
	args := c.Args[1:]
	if len(args) > 0 && (args[0] == "-R" || args[0] == "--") {
		args = args[1:]
	}
	if len(args) < 2 {
		return missingOperand(c)
	}
	user, group, _ := strings.Cut(args[0], ":")
	if !checkOwner(c, user, group) {
		return 1
	}
	status := 0
	for _, a := range args[1:] {
		lp := c.Local(a)
		if _, err := os.Stat(lp); err != nil {
			fmt.Fprintf(c.Stderr, "chown: cannot access '%s': %s\n", a, describe(err))
			status = 1
			continue
		}
		if !c.Root() {
			fmt.Fprintf(c.Stderr, "chown: changing ownership of '%s': Operation not permitted\n", a)
			status = 1
			continue
		}
		c.Host.owners.SetOwner(lp, user, group)
	}
	return status
}

// install [-m MODE] [-o USER] [-g GROUP] [-d] [-D] SRC DST
func install(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "mogdDCTpv", "mog", map[string]byte{"mode": 'm', "owner": 'o', "group": 'g', "directory": 'd'})
	if !ok {
		return 1
	}
	mode := os.FileMode(0o755)
	if m, ok := f['m']; ok {
		var valid bool
		if mode, valid = parseMode(m, 0); !valid {
			fmt.Fprintf(c.Stderr, "install: invalid mode ‘%s’\n", m)
			return 1
		}
	}
	if !checkOwner(c, f['o'], f['g']) {
		return 1
	}
	if f.has('d') {
		for _, d := range args {
			if err := os.MkdirAll(c.Local(d), mode); err != nil || !c.Host.writable(c.User, c.Path(d)) {
				fmt.Fprintf(c.Stderr, "install: cannot create directory '%s': Permission denied\n", d)
				return 1
			}
		}
		return 0
	}
	if len(args) < 2 {
		return missingOperand(c)
	}
	src, dst := args[0], target(c, args[0], args[1])
	if _, err := os.Stat(c.Local(src)); err != nil {
		fmt.Fprintf(c.Stderr, "install: cannot stat '%s': %s\n", src, describe(err))
		return 1
	}
	if !c.Host.readable(c.User, c.Path(src)) {
		fmt.Fprintf(c.Stderr, "install: cannot open '%s' for reading: Permission denied\n", src)
		return 1
	}
	if f.has('D') {
		os.MkdirAll(filepath.Dir(c.Local(dst)), 0o755)
	}
	if !c.Host.writable(c.User, dst) {
		fmt.Fprintf(c.Stderr, "install: cannot create regular file '%s': Permission denied\n", dst)
		return 1
	}
	if err := copyFile(c.Local(src), c.Local(dst), mode); err != nil {
		fmt.Fprintf(c.Stderr, "install: cannot create regular file '%s': %s\n", dst, describe(err))
		return 1
	}
	owner, group := f['o'], f['g']
	if !c.Root() {
		if owner != "" || group != "" {
			fmt.Fprintf(c.Stderr, "install: cannot change ownership of '%s': Operation not permitted\n", dst)
			return 1
		}
		owner, group = c.User, c.User
	}
	if owner == "" && group == "" {
		owner, group = "root", "root"
	}
	c.Host.owners.SetOwner(c.Local(dst), owner, group)
	return 0
}

// stat [-c FORMAT] FILE...: the directives of sshd.FormatStat.
func stat(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "cL", "c", map[string]byte{"format": 'c'})
	if !ok {
		return 1
	}
	if len(args) == 0 {
		return missingOperand(c)
	}
	format, custom := f['c']
	if !custom {
		format = "  File: %n\n  Size: %s\tType: %F\nAccess: (0%a/%A)  Uid: (%u/%U)   Gid: (%g/%G)"
	}
	status := 0
	for _, a := range args {
		fi, err := os.Stat(c.Local(a))
		if err != nil {
			fmt.Fprintf(c.Stderr, "stat: cannot statx '%s': %s\n", a, describe(err))
			status = 1
			continue
		}
		user, group := c.Host.owners.Owner(fi)
		fmt.Fprintln(c.Stdout, sshd.FormatStat(format, sshd.StatFile{Name: a, Info: fi, User: user, Group: group,
			UID: c.Host.uid(user), GID: c.Host.uid(group)}))
	}
	return status
}

// uid returns a user's numeric ID (or the name when unknown).
func (h *Host) uid(user string) string {
	if a, ok := h.account(user); ok {
		return a.uid
	}
	return user
}
