package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/pkg/sftp"

	"github.com/homelabctl/homelab/pkg/step"
)

// tempMarker is in the name of every temporary file Sync writes:
// <dir>/.<base>.homelab-tmp-<random>.
const tempMarker = ".homelab-tmp-"

func tempPrefix(p string) string { return "." + path.Base(p) + tempMarker }

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Read returns a remote file's content. See Host.
func (h *host) Read(ctx context.Context, p string) ([]byte, error) {
	name := h.cfg.name()
	if step.InPass(ctx) {
		f, ok, err := h.fact(ctx, step.HostRead{Host: name, Path: p})
		switch {
		case err != nil:
			return nil, fmt.Errorf("ssh %s: read %s: %w", name, p, err)
		case ok && f.status == 0:
			return f.stdout, nil
		case ok && f.status == notThere:
			return nil, fmt.Errorf("ssh %s: read %s: %w", name, p, os.ErrNotExist)
		}
	}
	if h.cfg.sudo() {
		res, err := h.Run(ctx, Command{Script: "cat " + Quote(p)})
		var exit *ExitError
		if errors.As(err, &exit) && strings.Contains(exit.Stderr, "No such file") {
			return nil, fmt.Errorf("ssh %s: read %s: %w", name, p, os.ErrNotExist)
		}
		if err != nil {
			return nil, fmt.Errorf("ssh %s: read %s: %w", name, p, err)
		}
		return res.Stdout, nil
	}
	c, sc, done, err := h.sftp(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	f, err := sc.Open(p)
	if err != nil {
		return nil, h.transport(c, fmt.Errorf("ssh %s: read %s: %w", name, p, err))
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, h.transport(c, fmt.Errorf("ssh %s: read %s: %w", name, p, err))
	}
	return b, nil
}

// Sync makes the remote file equal to f. See Host.
//
// The content is compared by SHA-256; when it differs it is written to a
// temporary file in the same directory, given its mode (and owner), then
// renamed over the target, so a reader never sees a partial file. A
// temporary file left by an interrupted Sync is removed by the next one.
func (h *host) Sync(ctx context.Context, f File) (bool, error) {
	name := h.cfg.name()
	if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
		return false, fmt.Errorf("ssh %s: sync %q: the path must be absolute and clean", name, f.Path)
	}
	if f.Mode == 0 {
		f.Mode = 0o644
	}
	want := sha256.Sum256(f.Content)
	if h.cfg.sudo() {
		return h.syncSudo(ctx, f, want)
	}
	c, sc, done, err := h.sftp(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	fail := func(what string, err error) (bool, error) {
		return false, h.transport(c, fmt.Errorf("ssh %s: sync %s: %s: %w", name, f.Path, what, err))
	}

	same, err := sameContent(sc, f.Path, want)
	if err != nil {
		return fail("read", err)
	}
	if same {
		fi, err := sc.Stat(f.Path)
		if err != nil {
			return fail("stat", err)
		}
		if fi.Mode().Perm() == f.Mode.Perm() {
			ok, err := h.sameOwner(ctx, f)
			if err != nil {
				return false, err
			}
			if ok {
				return false, nil
			}
		}
	}
	dir := path.Dir(f.Path)
	if err := sc.MkdirAll(dir); err != nil {
		return fail("mkdir "+dir, err)
	}
	removeStale(sc, dir, tempPrefix(f.Path))
	tmp := path.Join(dir, tempPrefix(f.Path)+randomSuffix())
	if err := upload(sc, tmp, f.Content, f.Mode); err != nil {
		if alive(c) {
			sc.Remove(tmp)
		}
		return fail("write", err)
	}
	if f.Owner != "" || f.Group != "" {
		if _, err := h.Run(ctx, Command{Script: "chown " + Quote(f.Owner+ownerGroup(f.Group)) + " " + Quote(tmp)}); err != nil {
			sc.Remove(tmp)
			return false, fmt.Errorf("ssh %s: sync %s: %w", name, f.Path, err)
		}
	}
	if err := sc.PosixRename(tmp, f.Path); err != nil {
		if alive(c) {
			sc.Remove(tmp)
		}
		return fail("rename", err)
	}
	h.pool.log.Debug("ssh sync: wrote file", "host", name, "path", f.Path, "bytes", len(f.Content))
	return true, nil
}

// statScript is a `stat -c format path` command.
func statScript(p, format string) string {
	return "stat -c " + Quote(format) + " " + Quote(p)
}

// ownerMatches reports whether "owner group" (as `stat -c '%U %G'` prints
// them) satisfies f's Owner and Group; empty ones match anything.
func ownerMatches(f File, st string) bool {
	owner, group, _ := strings.Cut(strings.TrimSpace(st), " ")
	return (f.Owner == "" || f.Owner == owner) && (f.Group == "" || f.Group == group)
}

// sameOwner reports whether the remote file has f's Owner and Group (true
// when f sets neither: nothing to check).
func (h *host) sameOwner(ctx context.Context, f File) (bool, error) {
	if f.Owner == "" && f.Group == "" {
		return true, nil
	}
	res, err := h.Run(ctx, Command{Script: statScript(f.Path, "%U %G")})
	if err != nil {
		return false, fmt.Errorf("ssh %s: sync %s: owner: %w", h.cfg.name(), f.Path, err)
	}
	return ownerMatches(f, string(res.Stdout)), nil
}

func ownerGroup(g string) string {
	if g == "" {
		return ""
	}
	return ":" + g
}

// sameContent reports whether the remote file at p hashes to want (a
// missing file differs).
func sameContent(sc *sftp.Client, p string, want [sha256.Size]byte) (bool, error) {
	r, err := sc.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, r); err != nil {
		return false, err
	}
	return bytes.Equal(hash.Sum(nil), want[:]), nil
}

// upload writes content to the new file p and sets its mode.
func upload(sc *sftp.Client, p string, content []byte, mode os.FileMode) error {
	w, err := sc.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return err
	}
	if _, err := w.Write(content); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return sc.Chmod(p, mode.Perm())
}

// removeStale removes the temporary files an interrupted Sync left in dir
// (best effort).
func removeStale(sc *sftp.Client, dir, prefix string) {
	entries, err := sc.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Mode().IsRegular() {
			sc.Remove(path.Join(dir, e.Name()))
		}
	}
}

// syncSudo syncs as a non-root user: upload to /tmp, then `sudo install`
// into a temporary file next to the target and `mv` it into place.
func (h *host) syncSudo(ctx context.Context, f File, want [sha256.Size]byte) (bool, error) {
	name := h.cfg.name()
	res, err := h.Run(ctx, Command{Script: statScript(f.Path, "%a %U %G") + " && sha256sum " + Quote(f.Path)})
	var exit *ExitError
	if err != nil && !errors.As(err, &exit) {
		return false, fmt.Errorf("ssh %s: sync %s: %w", name, f.Path, err)
	}
	if err == nil {
		// "640 root haproxy\n<sha256>  <path>\n"
		st, sum, _ := strings.Cut(string(res.Stdout), "\n")
		sum, _, _ = strings.Cut(sum, " ")
		if perm, owner, ok := strings.Cut(st, " "); ok && sum == hex.EncodeToString(want[:]) &&
			perm == fmt.Sprintf("%o", f.Mode.Perm()) && ownerMatches(f, owner) {
			return false, nil
		}
	}

	c, sc, done, err := h.sftp(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	prefix := tempPrefix(f.Path)
	// /tmp is shared by every target directory: the upload's name carries
	// a tag of the full path, so that cleaning stale uploads of
	// /etc/a/x.conf never removes one of /etc/b/x.conf in flight.
	tag := sha256.Sum256([]byte(f.Path))
	uplPrefix := prefix + hex.EncodeToString(tag[:4]) + "-"
	removeStale(sc, "/tmp", uplPrefix)
	upl := path.Join("/tmp", uplPrefix+randomSuffix())
	if err := upload(sc, upl, f.Content, 0o600); err != nil {
		if alive(c) {
			sc.Remove(upl)
		}
		return false, h.transport(c, fmt.Errorf("ssh %s: sync %s: upload: %w", name, f.Path, err))
	}
	defer sc.Remove(upl)

	dir := path.Dir(f.Path)
	// The temporary file beside the target is <prefix>t-<random>, and only
	// <prefix>t-* is cleaned there: the upload (<prefix><hex tag>-...) must
	// survive when the target is in /tmp too.
	tmpPrefix := path.Join(dir, prefix+"t-")
	tmp := tmpPrefix + randomSuffix()
	install := fmt.Sprintf("install -m %04o", f.Mode.Perm())
	if f.Owner != "" {
		install += " -o " + Quote(f.Owner)
	}
	if f.Group != "" {
		install += " -g " + Quote(f.Group)
	}
	script := fmt.Sprintf("mkdir -p %s && rm -f %s* && %s %s %s && mv -f %s %s",
		Quote(dir), Quote(tmpPrefix), install, Quote(upl), Quote(tmp), Quote(tmp), Quote(f.Path))
	if _, err := h.Run(ctx, Command{Script: script}); err != nil {
		return false, fmt.Errorf("ssh %s: sync %s: %w", name, f.Path, err)
	}
	h.pool.log.Debug("ssh sync: wrote file", "host", name, "path", f.Path, "bytes", len(f.Content), "sudo", true)
	return true, nil
}
