package sshd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// shell is the state the built-in commands share: the owners chown gave to
// files. The simulator runs unprivileged, so ownership is remembered here
// instead of on disk. Files are matched with os.SameFile, so an owner
// follows its file through renames (as a real inode's would).
type shell struct {
	mu     sync.Mutex
	owners []owned
}

type owned struct {
	fi          os.FileInfo
	user, group string
}

// owner returns the owner and group recorded for the file fi describes.
func (sh *shell) owner(fi os.FileInfo) (user, group string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, o := range sh.owners {
		if os.SameFile(o.fi, fi) {
			return o.user, o.group
		}
	}
	return "root", "root"
}

// setOwner records user and group (either may be empty: unchanged) for the
// file at local path p.
func (sh *shell) setOwner(p, user, group string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for i, o := range sh.owners {
		if os.SameFile(o.fi, fi) {
			if user != "" {
				sh.owners[i].user = user
			}
			if group != "" {
				sh.owners[i].group = group
			}
			return nil
		}
	}
	o := owned{fi: fi, user: "root", group: "root"}
	if user != "" {
		o.user = user
	}
	if group != "" {
		o.group = group
	}
	sh.owners = append(sh.owners, o)
	return nil
}

// chown OWNER[:GROUP] FILE... (or :GROUP); -R and -h are accepted and
// apply to the named files only.
func (sh *shell) chown(_ context.Context, s Session, a []string) int {
	_, a = flags(a, "")
	if len(a) < 2 {
		return fail(s, "chown", errors.New("want OWNER[:GROUP] FILE..."))
	}
	user, group, _ := strings.Cut(a[0], ":")
	for _, p := range a[1:] {
		if err := sh.setOwner(under(s, p), user, group); err != nil {
			return fail(s, "chown", fmt.Errorf("cannot access '%s': No such file or directory", p))
		}
	}
	return 0
}

// stat -c FORMAT FILE...: %a (octal permissions), %U, %G, %s, %n and %%.
func (sh *shell) stat(_ context.Context, s Session, a []string) int {
	o, a := flags(a, "c")
	format, ok := o['c']
	if !ok || len(a) == 0 {
		return fail(s, "stat", errors.New("want -c FORMAT FILE..."))
	}
	status := 0
	for _, p := range a {
		fi, err := os.Stat(under(s, p))
		if err != nil {
			fmt.Fprintf(s.Stderr, "stat: cannot statx '%s': No such file or directory\n", p)
			status = 1
			continue
		}
		user, group := sh.owner(fi)
		var out strings.Builder
		for i := 0; i < len(format); i++ {
			if format[i] != '%' || i+1 == len(format) {
				out.WriteByte(format[i])
				continue
			}
			i++
			switch format[i] {
			case 'a':
				fmt.Fprintf(&out, "%o", fi.Mode().Perm())
			case 'U':
				out.WriteString(user)
			case 'G':
				out.WriteString(group)
			case 's':
				fmt.Fprint(&out, fi.Size())
			case 'n':
				out.WriteString(p)
			case '%':
				out.WriteByte('%')
			default:
				out.WriteByte('?')
			}
		}
		fmt.Fprintln(s.Stdout, out.String())
	}
	return status
}
