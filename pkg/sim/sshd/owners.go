package sshd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// shell is the state the built-in commands share: the owners chown gave
// to files.
type shell struct {
	Owners
}

// Owners remembers the owners chown gave to files. The simulators run
// unprivileged, so ownership is remembered here instead of on disk; files
// are matched with os.SameFile, so an owner follows its file through
// renames (as a real inode's would). Its zero value is ready to use and it
// is safe for concurrent use. pkg/sim/host keeps its hosts' owners in one.
type Owners struct {
	mu    sync.Mutex
	files []owned
}

type owned struct {
	fi          os.FileInfo
	user, group string
}

// Owner returns the owner and group recorded for the file fi describes
// (root unless recorded).
func (o *Owners) Owner(fi os.FileInfo) (user, group string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range o.files {
		if os.SameFile(f.fi, fi) {
			return f.user, f.group
		}
	}
	return "root", "root"
}

// Reset forgets every recorded owner (a disk made anew).
func (o *Owners) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.files = nil
}

// SetOwner records user and group (either may be empty: unchanged) for
// the file at local path p.
func (o *Owners) SetOwner(p, user, group string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, f := range o.files {
		if os.SameFile(f.fi, fi) {
			if user != "" {
				o.files[i].user = user
			}
			if group != "" {
				o.files[i].group = group
			}
			return nil
		}
	}
	f := owned{fi: fi, user: "root", group: "root"}
	if user != "" {
		f.user = user
	}
	if group != "" {
		f.group = group
	}
	o.files = append(o.files, f)
	return nil
}

// chown OWNER[:GROUP] FILE... (or :GROUP); -R and -h are accepted and
// apply to the named files only.
func (sh *shell) chown(_ context.Context, s Session, a []string) int {
	_, a = flags(a, "")
	if len(a) < 2 {
		return fail(s, "chown", errors.New("want OWNER[:GROUP] and one or more FILEs"))
	}
	user, group, _ := strings.Cut(a[0], ":")
	for _, p := range a[1:] {
		if err := sh.SetOwner(under(s, p), user, group); err != nil {
			return fail(s, "chown", fmt.Errorf("cannot access '%s': No such file or directory", p))
		}
	}
	return 0
}

// stat -c FORMAT FILE...: see FormatStat.
func (sh *shell) stat(_ context.Context, s Session, a []string) int {
	o, a := flags(a, "c")
	format, ok := o['c']
	if !ok || len(a) == 0 {
		return fail(s, "stat", errors.New("want -c FORMAT and one or more FILEs"))
	}
	status := 0
	for _, p := range a {
		fi, err := os.Stat(under(s, p))
		if err != nil {
			fmt.Fprintf(s.Stderr, "stat: cannot statx '%s': No such file or directory\n", p)
			status = 1
			continue
		}
		user, group := sh.Owner(fi)
		fmt.Fprintln(s.Stdout, FormatStat(format, StatFile{Name: p, Info: fi, User: user, Group: group}))
	}
	return status
}

// StatFile is what stat prints of a file: its name as given, its info,
// and its owner and group by name and by ID ("" when not known).
type StatFile struct {
	Name        string
	Info        os.FileInfo
	User, Group string
	UID, GID    string
}

// FormatStat expands `stat -c FORMAT`'s directives for f: %a (octal
// permissions), %A (ls-style), %U %G (names), %u %g (IDs), %s (size), %n
// (name), %F (file type), %Y (modification time, seconds) and %%; an
// unknown directive or an unknown ID prints "?".
func FormatStat(format string, f StatFile) string {
	fi := f.Info
	known := func(s string) string {
		if s == "" {
			return "?"
		}
		return s
	}
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
		case 'A':
			out.WriteString(fi.Mode().String())
		case 'U':
			out.WriteString(f.User)
		case 'G':
			out.WriteString(f.Group)
		case 'u':
			out.WriteString(known(f.UID))
		case 'g':
			out.WriteString(known(f.GID))
		case 's':
			fmt.Fprint(&out, fi.Size())
		case 'n':
			out.WriteString(f.Name)
		case 'F':
			switch {
			case fi.IsDir():
				out.WriteString("directory")
			case fi.Size() == 0:
				out.WriteString("regular empty file")
			default:
				out.WriteString("regular file")
			}
		case 'Y':
			fmt.Fprint(&out, fi.ModTime().Unix())
		case '%':
			out.WriteByte('%')
		default:
			out.WriteByte('?')
		}
	}
	return out.String()
}
