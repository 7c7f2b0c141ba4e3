package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// CorruptError is a backup whose files do not match its manifest: a file
// missing, changed, or a manifest that cannot be read. Nothing of a
// file's content is in it.
type CorruptError struct {
	Dir string
	// File is the file at fault ("" for the manifest itself).
	File string
	// Problem says what is wrong.
	Problem string
}

func (e *CorruptError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("backup %s is not usable: %s", e.Dir, e.Problem)
	}
	return fmt.Sprintf("backup %s is corrupt: %s: %s", e.Dir, e.File, e.Problem)
}

// ForeignError is a backup of another cluster than the one it would be
// restored into.
type ForeignError struct {
	Dir string
	// Field is the identity field that differs; Backup and Want its
	// value in the backup and in the inventory.
	Field, Backup, Want string
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("backup %s is of another cluster: its %s is %q, the inventory's is %q; homelab restores a cluster's own backup only", e.Dir, e.Field, e.Backup, e.Want)
}

// required are the files a backup cannot be restored without.
func required() []string {
	r := []string{Snapshot, ClusterConfiguration}
	for _, p := range PKIFiles {
		r = append(r, "pki/"+p)
	}
	return r
}

// Open reads the backup in dir and checks it: the manifest's format, every
// file it lists present with its size and SHA-256, every file a restore
// needs listed, and the CA fingerprint equal to the CA's. It returns a
// *CorruptError otherwise.
func Open(dir string) (*Backup, error) {
	corrupt := func(file, format string, a ...any) error {
		return &CorruptError{Dir: dir, File: file, Problem: fmt.Sprintf(format, a...)}
	}
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, corrupt("", "it has no %s (not a backup, or one that did not finish)", ManifestFile)
	}
	if err != nil {
		return nil, corrupt("", "%v", err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, corrupt("", "%s: %v", ManifestFile, err)
	}
	if m.FormatVersion != FormatVersion {
		return nil, corrupt("", "%s: format_version %d, this homelab reads %d", ManifestFile, m.FormatVersion, FormatVersion)
	}
	b := &Backup{Manifest: m, Dir: dir, files: map[string][]byte{}}
	for _, f := range m.Files {
		clean := path.Clean(f.Path)
		if clean != f.Path || path.IsAbs(clean) || strings.HasPrefix(clean, "../") || clean == ".." {
			return nil, corrupt(f.Path, "a path outside the backup")
		}
		c, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			return nil, corrupt(f.Path, "listed in the manifest but not readable: %v", errors.Unwrap(err))
		}
		sum := sha256.Sum256(c)
		if got := hex.EncodeToString(sum[:]); got != f.SHA256 || len(c) != f.Size {
			return nil, corrupt(f.Path, "SHA-256 %s (%d bytes), the manifest says %s (%d bytes)", got, len(c), f.SHA256, f.Size)
		}
		b.files[f.Path] = c
	}
	for _, r := range required() {
		if _, ok := b.files[r]; !ok {
			return nil, corrupt(r, "not in the manifest: a restore needs it")
		}
	}
	fp, err := Fingerprint(b.files[CACert])
	if err != nil {
		return nil, corrupt(CACert, "%v", err)
	}
	if fp != m.Identity.CAFingerprint {
		return nil, corrupt(CACert, "its fingerprint is %s, the manifest says %s", fp, m.Identity.CAFingerprint)
	}
	return b, nil
}

// Check refuses a backup of another cluster: its endpoint and cluster
// name must be want's (the inventory's), with a *ForeignError.
func (b *Backup) Check(want Identity) error {
	got := b.Manifest.Identity
	for _, f := range []struct{ name, got, want string }{
		{"endpoint", got.Endpoint, want.Endpoint},
		{"cluster name", got.ClusterName, want.ClusterName},
	} {
		if f.got != f.want {
			return &ForeignError{Dir: b.Dir, Field: f.name, Backup: f.got, Want: f.want}
		}
	}
	return nil
}
