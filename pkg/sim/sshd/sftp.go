package sshd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pkg/sftp"
)

// rootFS serves SFTP requests from a directory: the remote path p is
// filepath.Join(root, p). Paths are cleaned against "/" so ".." never climbs
// above the root, and a path whose existing part resolves (through symbolic
// links) outside the root is refused.
type rootFS struct {
	root string
	srv  *Server
	conn net.Conn // the connection, for the write-drop fault
}

var errEscape = errors.New("path escapes the host root")

func (fs *rootFS) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: fs, FilePut: fs, FileCmd: fs, FileList: fs}
}

// local maps a remote path to the local file system.
func (fs *rootFS) local(p string) (string, error) {
	full := filepath.Join(fs.root, filepath.FromSlash(path.Clean("/"+p)))
	// Resolve the longest existing prefix and check it stays inside root.
	probe := full
	for {
		real, err := filepath.EvalSymlinks(probe)
		if err == nil {
			if real != fs.root && !strings.HasPrefix(real, fs.root+string(filepath.Separator)) {
				return "", &os.PathError{Op: "resolve", Path: p, Err: errEscape}
			}
			return full, nil
		}
		parent := filepath.Dir(probe)
		if parent == probe || len(parent) < len(fs.root) {
			return full, nil
		}
		probe = parent
	}
}

// Fileread opens a file for reading.
func (fs *rootFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	p, err := fs.local(r.Filepath)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Filewrite opens a file for writing.
func (fs *rootFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	return fs.open(r, false)
}

// OpenFile opens a file for reading and writing.
func (fs *rootFS) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	return fs.open(r, true)
}

func (fs *rootFS) open(r *sftp.Request, read bool) (*dropFile, error) {
	p, err := fs.local(r.Filepath)
	if err != nil {
		return nil, err
	}
	pf := r.Pflags()
	flag := os.O_WRONLY
	if read {
		flag = os.O_RDWR
	}
	if pf.Creat {
		flag |= os.O_CREATE
	}
	if pf.Trunc {
		flag |= os.O_TRUNC
	}
	if pf.Excl {
		flag |= os.O_EXCL
	}
	mode := os.FileMode(0o644)
	if r.AttrFlags().Permissions {
		mode = r.Attributes().FileMode().Perm()
	}
	f, err := os.OpenFile(p, flag, mode)
	if err != nil {
		return nil, err
	}
	return &dropFile{File: f, budget: fs.srv.takeDrop(), conn: fs.conn}, nil
}

// dropFile is an open file that can drop the connection after a budget of
// written bytes (budget < 0: never).
type dropFile struct {
	*os.File
	conn net.Conn

	mu      sync.Mutex
	budget  int64
	written int64
}

// WriteAt writes to the file, or drops the connection once the budget is
// spent.
func (f *dropFile) WriteAt(b []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.budget < 0 {
		return f.File.WriteAt(b, off)
	}
	left := f.budget - f.written
	if int64(len(b)) <= left {
		f.written += int64(len(b))
		return f.File.WriteAt(b, off)
	}
	n := 0
	if left > 0 {
		n, _ = f.File.WriteAt(b[:left], off)
		f.written += int64(n)
	}
	f.conn.Close()
	return n, errDropped
}

// Filecmd handles Setstat, Rename, PosixRename, Rmdir, Remove and Mkdir.
func (fs *rootFS) Filecmd(r *sftp.Request) error {
	p, err := fs.local(r.Filepath)
	if err != nil {
		return err
	}
	switch r.Method {
	case "Setstat":
		return fs.setstat(p, r)
	case "Rename":
		t, err := fs.local(r.Target)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(t); err == nil {
			return &os.PathError{Op: "rename", Path: r.Target, Err: os.ErrExist}
		}
		return os.Rename(p, t)
	case "PosixRename":
		return fs.PosixRename(r)
	case "Rmdir":
		return syscallRmdir(p)
	case "Remove":
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			return &os.PathError{Op: "remove", Path: r.Filepath, Err: errors.New("is a directory")}
		}
		return os.Remove(p)
	case "Mkdir":
		return os.Mkdir(p, 0o755)
	case "Link", "Symlink":
		return fmt.Errorf("sshd: %s is not supported", strings.ToLower(r.Method))
	}
	return sftp.ErrSSHFxOpUnsupported
}

func syscallRmdir(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &os.PathError{Op: "rmdir", Path: p, Err: errors.New("not a directory")}
	}
	return os.Remove(p)
}

func (fs *rootFS) setstat(p string, r *sftp.Request) error {
	fl := r.AttrFlags()
	a := r.Attributes()
	if fl.Permissions {
		if err := os.Chmod(p, a.FileMode().Perm()); err != nil {
			return err
		}
	}
	if fl.Size {
		if err := os.Truncate(p, int64(a.Size)); err != nil {
			return err
		}
	}
	if fl.Acmodtime {
		if err := os.Chtimes(p, a.AccessTime(), a.ModTime()); err != nil {
			return err
		}
	}
	return nil // ownership changes are accepted and ignored
}

// PosixRename renames, replacing the target (rename(2) semantics).
func (fs *rootFS) PosixRename(r *sftp.Request) error {
	p, err := fs.local(r.Filepath)
	if err != nil {
		return err
	}
	t, err := fs.local(r.Target)
	if err != nil {
		return err
	}
	return os.Rename(p, t)
}

// Filelist handles List, Stat and Readlink.
func (fs *rootFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	p, err := fs.local(r.Filepath)
	if err != nil {
		return nil, err
	}
	switch r.Method {
	case "List":
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var infos listerAt
		for _, e := range entries {
			if fi, err := e.Info(); err == nil {
				infos = append(infos, fi)
			}
		}
		return infos, nil
	case "Stat":
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		return listerAt{fi}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// Lstat stats a path without following a final symbolic link.
func (fs *rootFS) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	p, err := fs.local(r.Filepath)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	return listerAt{fi}, nil
}

type listerAt []os.FileInfo

// ListAt copies entries from offset into ls.
func (l listerAt) ListAt(ls []os.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(ls, l[offset:])
	if n < len(ls) {
		return n, io.EOF
	}
	return n, nil
}
