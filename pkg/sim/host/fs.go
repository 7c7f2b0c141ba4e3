package host

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"mvdan.cc/sh/v3/interp"
)

// local maps the host path p (absolute, or relative to dir) to the local
// file system: Root+p. ".." never climbs above the root.
func (h *Host) local(dir, p string) string {
	if !path.IsAbs(p) {
		p = path.Join(dir, p)
	}
	return filepath.Join(h.root, filepath.FromSlash(path.Clean("/"+p)))
}

// hostPath returns the absolute, clean host path of p.
func hostPath(dir, p string) string {
	if !path.IsAbs(p) {
		p = path.Join(dir, p)
	}
	return path.Clean(p)
}

// account is a line of /etc/passwd.
type account struct {
	name, home, shell string
	uid, gid          string
}

// account looks user up in the host's /etc/passwd.
func (h *Host) account(user string) (account, bool) {
	b, err := os.ReadFile(h.local("/", "/etc/passwd"))
	if err != nil {
		return account{}, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && f[0] == user {
			return account{name: f[0], uid: f[2], gid: f[3], home: f[5], shell: f[6]}, true
		}
	}
	return account{}, false
}

// writable reports whether user may create or replace the host file p:
// root anywhere; other users in /tmp, /var/tmp, their home and their own
// files.
func (h *Host) writable(user, p string) bool {
	if user == "root" || p == "/dev/null" {
		return true
	}
	acct, _ := h.account(user)
	for _, dir := range []string{"/tmp", "/var/tmp", acct.home} {
		if dir != "" && (p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")) {
			return true
		}
	}
	if fi, err := os.Stat(h.local("/", p)); err == nil {
		owner, _ := h.owners.Owner(fi)
		return owner == user
	}
	return false
}

// readable reports whether user may read the host file p: root always,
// others when it is world-readable or theirs.
func (h *Host) readable(user, p string) bool {
	if user == "root" {
		return true
	}
	fi, err := os.Stat(h.local("/", p))
	if err != nil {
		return true // the open fails on its own
	}
	if fi.Mode().Perm()&0o004 != 0 || fi.IsDir() {
		return true
	}
	owner, _ := h.owners.Owner(fi)
	return owner == user
}

// describe returns the words a tool prints for err.
func describe(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "Permission denied"
	case errors.Is(err, syscall.ENOTDIR):
		return "Not a directory"
	case errors.Is(err, syscall.EISDIR):
		return "Is a directory"
	case errors.Is(err, syscall.ENOTEMPTY):
		return "Directory not empty"
	case errors.Is(err, fs.ErrExist):
		return "File exists"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// openHandler opens files for the shell's redirections, in the host's
// root and with the user's permissions; its errors read as dash's.
func (h *Host) openHandler(c *Call) interp.OpenHandlerFunc {
	return func(ctx context.Context, p string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
		hc := interp.HandlerCtx(ctx)
		hp := hostPath(hc.Dir, p)
		if hp == "/dev/null" {
			return os.OpenFile(os.DevNull, flag, perm)
		}
		write := flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_APPEND|os.O_TRUNC) != 0
		op := "cannot open"
		if write {
			op = "cannot create"
		}
		fail := func(err error) error {
			// dash: "sh: 1: cannot create /etc/x: Permission denied";
			// bash: "bash: line 1: /etc/x: Permission denied".
			prefix := c.shellPrefix(hc.Pos.Line())
			if c.Shell == "bash" {
				return &os.PathError{Op: strings.TrimSuffix(prefix, " "), Path: p, Err: errors.New(describe(err))}
			}
			return &os.PathError{Op: prefix + op, Path: p, Err: errors.New(describe(err))}
		}
		if write && !h.writable(c.User, hp) || !write && !h.readable(c.User, hp) {
			return nil, fail(fs.ErrPermission)
		}
		lp := h.local("/", hp)
		_, statErr := os.Stat(lp)
		f, err := os.OpenFile(lp, flag, perm)
		if err != nil {
			return nil, fail(err)
		}
		if statErr != nil && c.User != "root" {
			h.owners.SetOwner(lp, c.User, c.User)
		}
		return f, nil
	}
}

// statHandler stats files in the host's root (test -f, -d...).
func (h *Host) statHandler() interp.StatHandlerFunc {
	return func(ctx context.Context, name string, follow bool) (fs.FileInfo, error) {
		if name == "/dev/null" {
			return os.Stat(os.DevNull)
		}
		lp := h.local("/", name)
		if follow {
			return os.Stat(lp)
		}
		return os.Lstat(lp)
	}
}

// readDirHandler lists directories in the host's root (globbing).
func (h *Host) readDirHandler() interp.ReadDirHandlerFunc2 {
	return func(ctx context.Context, p string) ([]fs.DirEntry, error) {
		return os.ReadDir(h.local("/", p))
	}
}

// writeFile writes a host file as root, creating its directory. The file
// is replaced atomically (a reader sees the old or the new content), as
// the tools that edit /etc/passwd or dpkg's status do.
func (h *Host) writeFile(p string, content []byte, mode os.FileMode) error {
	lp := h.local("/", p)
	if err := os.MkdirAll(filepath.Dir(lp), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(lp), "."+filepath.Base(lp)+".sim-")
	if err != nil {
		return err
	}
	_, err = tmp.Write(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), lp)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// readFile reads a host file.
func (h *Host) readFile(p string) ([]byte, error) {
	return os.ReadFile(h.local("/", p))
}
