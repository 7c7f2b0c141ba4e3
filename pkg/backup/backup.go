// Package backup is the on-disk form of a cluster backup: a directory
// (0700) of files (0600) and a manifest that names the cluster they came
// from and the SHA-256 of every file. It writes one, and opens one for a
// restore, refusing a backup whose files do not match their checksums or
// whose manifest names another cluster, with typed errors.
//
// The package knows nothing of how the files are taken or put back
// (pkg/kubeadm does that over SSH); it never prints a file's content, and
// its errors name files and checksums only.
package backup

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// FormatVersion is the manifest's format_version.
const FormatVersion = 1

// ManifestFile is the manifest's name in a backup directory.
const ManifestFile = "manifest.json"

// Files of a backup, by their path in the directory.
const (
	Snapshot             = "etcd/snapshot.db"
	ClusterConfiguration = "kubeadm/cluster-configuration.yaml"
	CACert               = "pki/ca.crt"
)

// PKIFiles are the cluster PKI a backup keeps, by their path under
// /etc/kubernetes/pki (in the backup: under "pki/"): the cluster CA, the
// front-proxy CA, the etcd CA and the service-account key pair. Every
// other certificate kubeadm makes again from them.
var PKIFiles = []string{
	"ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key",
	"etcd/ca.crt", "etcd/ca.key", "sa.key", "sa.pub",
}

// Identity is who a backup belongs to: enough to refuse restoring it into
// another cluster, nothing secret.
type Identity struct {
	// Inventory is the inventory's name.
	Inventory string `json:"inventory"`
	// ClusterName is kubeadm's clusterName.
	ClusterName string `json:"cluster_name"`
	// Endpoint is the cluster's controlPlaneEndpoint name.
	Endpoint string `json:"endpoint"`
	// CAFingerprint is the SHA-256 of the cluster CA certificate (DER),
	// "sha256:<hex>".
	CAFingerprint string `json:"ca_fingerprint"`
}

// String says which cluster, for plans and messages.
func (id Identity) String() string {
	fp := id.CAFingerprint
	if len(fp) > 23 {
		fp = fp[:23] + "…"
	}
	return fmt.Sprintf("cluster %s at %s (inventory %s, CA %s)", id.ClusterName, id.Endpoint, id.Inventory, fp)
}

// Manifest is manifest.json.
type Manifest struct {
	FormatVersion int      `json:"format_version"`
	Identity      Identity `json:"identity"`
	// KubernetesVersion is the cluster's version when it was taken.
	KubernetesVersion string `json:"kubernetes_version"`
	// Taken is when; From is the control plane whose etcd member gave
	// the snapshot.
	Taken time.Time `json:"taken"`
	From  string    `json:"from"`
	Files []File    `json:"files"`
}

// File is one file of a backup and its checksum.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// Backup is a backup in memory: its manifest and its files' contents.
type Backup struct {
	Manifest Manifest
	// Dir is the directory it was opened from or written to.
	Dir   string
	files map[string][]byte
}

// New returns a backup of files (by their path in the backup), with the
// manifest's file list and checksums filled in.
func New(m Manifest, files map[string][]byte) *Backup {
	m.FormatVersion = FormatVersion
	m.Files = nil
	for p, b := range files {
		sum := sha256.Sum256(b)
		m.Files = append(m.Files, File{Path: p, SHA256: hex.EncodeToString(sum[:]), Size: len(b)})
	}
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return &Backup{Manifest: m, files: files}
}

// File returns a file's content.
func (b *Backup) File(path string) ([]byte, bool) {
	c, ok := b.files[path]
	return c, ok
}

// PKI returns the PKI files by their path under /etc/kubernetes/pki.
func (b *Backup) PKI() map[string][]byte {
	out := map[string][]byte{}
	for _, p := range PKIFiles {
		if c, ok := b.files["pki/"+p]; ok {
			out[p] = c
		}
	}
	return out
}

// Fingerprint is the "sha256:<hex>" of a PEM certificate's DER.
func Fingerprint(certPEM []byte) (string, error) {
	blk, _ := pem.Decode(certPEM)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return "", errors.New("no PEM certificate")
	}
	if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
		return "", err
	}
	sum := sha256.Sum256(blk.Bytes)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Write writes the backup into dir, which must not exist or be empty:
// dir 0700 (and its subdirectories), every file 0600, the manifest last,
// so a directory without a manifest is a backup that did not finish.
func (b *Backup) Write(dir string) error {
	if e, err := os.ReadDir(dir); err == nil && len(e) > 0 {
		return fmt.Errorf("backup directory %s is not empty: homelab writes each backup into a directory of its own", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("backup directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("backup directory: %w", err)
	}
	for _, f := range b.Manifest.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := mkdirs(dir, filepath.Dir(p)); err != nil {
			return err
		}
		if err := os.WriteFile(p, b.files[f.Path], 0o600); err != nil {
			return fmt.Errorf("backup %s: %w", f.Path, err)
		}
	}
	m, err := json.MarshalIndent(b.Manifest, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(m, '\n'), 0o600); err != nil {
		return fmt.Errorf("backup manifest: %w", err)
	}
	b.Dir = dir
	return nil
}

// mkdirs makes the directories from root down to d, each 0700.
func mkdirs(root, d string) error {
	rel, err := filepath.Rel(root, d)
	if err != nil || rel == "." {
		return err
	}
	cur := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		if err := os.Mkdir(cur, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("backup directory: %w", err)
		}
	}
	return nil
}
