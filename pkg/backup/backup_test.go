package backup_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/backup"
)

func caPEM(t testing.TB) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// sample is a complete backup of cluster "kubernetes" at k8s.example.
func sample(t testing.TB) *backup.Backup {
	t.Helper()
	files := map[string][]byte{backup.Snapshot: []byte("snapshot\x00\x01"), backup.ClusterConfiguration: []byte("clusterName: kubernetes\n")}
	for _, p := range backup.PKIFiles {
		files["pki/"+p] = []byte("secret of " + p)
	}
	files[backup.CACert] = caPEM(t)
	fp, err := backup.Fingerprint(files[backup.CACert])
	if err != nil {
		t.Fatal(err)
	}
	return backup.New(backup.Manifest{Identity: backup.Identity{Inventory: "lab", ClusterName: "kubernetes", Endpoint: "k8s.example", CAFingerprint: fp},
		Taken: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), From: "master-2"}, files)
}

// Written and opened again: a 0700 tree of 0600 files, every file back
// with its content, the manifest's checksums and identity; a second write
// into the same directory is refused.
func TestWriteOpen(t *testing.T) {
	b := sample(t)
	dir := filepath.Join(t.TempDir(), "b")
	if err := b.Write(dir); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, _ error) error {
		fi, _ := d.Info()
		if want := os.FileMode(0o600); d.IsDir() && fi.Mode().Perm() != 0o700 || !d.IsDir() && fi.Mode().Perm() != want {
			t.Errorf("%s: %v", p, fi.Mode())
		}
		return nil
	})
	got, err := backup.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range b.Manifest.Files {
		want, _ := b.File(f.Path)
		if c, ok := got.File(f.Path); !ok || string(c) != string(want) {
			t.Errorf("%s: %q", f.Path, c)
		}
	}
	if len(got.PKI()) != len(backup.PKIFiles) || got.Manifest.Identity != b.Manifest.Identity {
		t.Errorf("opened %+v", got.Manifest)
	}
	if err := b.Write(dir); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("a second write: %v", err)
	}
	if err := got.Check(backup.Identity{ClusterName: "kubernetes", Endpoint: "k8s.example", Inventory: "renamed"}); err != nil {
		t.Errorf("check of its own cluster: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, dir string, m map[string]any)
		file string
		want string
	}{
		{"changed file", func(t *testing.T, dir string, _ map[string]any) {
			os.WriteFile(filepath.Join(dir, "pki/sa.key"), []byte("secret of sa.kez"), 0o600)
		}, "pki/sa.key", "SHA-256 "},
		{"missing file", func(t *testing.T, dir string, _ map[string]any) { os.Remove(filepath.Join(dir, backup.Snapshot)) },
			backup.Snapshot, "listed in the manifest but not readable"},
		{"unlisted required file", func(t *testing.T, _ string, m map[string]any) {
			files := m["files"].([]any)
			m["files"] = files[1:] // etcd/snapshot.db sorts first... or another: any required one
		}, "", "not in the manifest: a restore needs it"},
		{"path outside", func(t *testing.T, _ string, m map[string]any) {
			files := m["files"].([]any)
			files[0].(map[string]any)["path"] = "../../etc/passwd"
		}, "../../etc/passwd", "a path outside the backup"},
		{"format version", func(t *testing.T, _ string, m map[string]any) { m["format_version"] = 9 }, "", "format_version 9"},
		{"CA fingerprint", func(t *testing.T, _ string, m map[string]any) {
			m["identity"].(map[string]any)["ca_fingerprint"] = "sha256:00"
		}, backup.CACert, "its fingerprint is sha256:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			if err := sample(t).Write(dir); err != nil {
				t.Fatal(err)
			}
			mp := filepath.Join(dir, backup.ManifestFile)
			raw, _ := os.ReadFile(mp)
			var m map[string]any
			json.Unmarshal(raw, &m)
			tc.edit(t, dir, m)
			raw, _ = json.Marshal(m)
			os.WriteFile(mp, raw, 0o600)
			_, err := backup.Open(dir)
			var ce *backup.CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) || (tc.file != "" && ce.File != tc.file) {
				t.Fatalf("Open: %v, want a CorruptError of %q with %q", err, tc.file, tc.want)
			}
			if strings.Contains(err.Error(), "secret of") {
				t.Errorf("the error shows a file's content: %v", err)
			}
		})
	}
}

func TestCheckRefusesAnotherCluster(t *testing.T) {
	b := sample(t)
	for _, tc := range []struct {
		want  backup.Identity
		field string
	}{
		{backup.Identity{ClusterName: "kubernetes", Endpoint: "other.example"}, "endpoint"},
		{backup.Identity{ClusterName: "prod", Endpoint: "k8s.example"}, "cluster name"},
	} {
		err := b.Check(tc.want)
		var fe *backup.ForeignError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Check(%+v): %v", tc.want, err)
		}
	}
}

// FuzzOpen: whatever the manifest holds, Open returns a backup or an
// error, never panics, and never accepts a manifest whose files do not
// check out.
func FuzzOpen(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "b")
	b := sample(f)
	if err := b.Write(dir); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(dir, backup.ManifestFile))
	f.Add(good)
	f.Add([]byte(`{"format_version":1,"files":[{"path":"/etc/shadow","sha256":"","size":0}]}`))
	f.Add([]byte(`{"format_version":1,"files":null}`))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		d := filepath.Join(t.TempDir(), "b")
		os.MkdirAll(d, 0o700)
		for _, name := range []string{"etcd", "kubeadm", "pki/etcd"} {
			os.MkdirAll(filepath.Join(d, name), 0o700)
		}
		for _, fl := range b.Manifest.Files {
			c, _ := b.File(fl.Path)
			os.WriteFile(filepath.Join(d, fl.Path), c, 0o600)
		}
		os.WriteFile(filepath.Join(d, backup.ManifestFile), manifest, 0o600)
		got, err := backup.Open(d)
		if err == nil {
			for _, fl := range got.Manifest.Files {
				if strings.Contains(fl.Path, "..") || filepath.IsAbs(fl.Path) {
					t.Errorf("accepted %q", fl.Path)
				}
			}
		}
	})
}
