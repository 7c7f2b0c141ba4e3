package dist

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Repository layout. One tree serves apt both ways:
//
//	deb [signed-by=KEYRING] URL/ /            (flat, the shape of pkgs.k8s.io
//	                                           and of homelab's sources line)
//	deb [signed-by=KEYRING] URL/ stable main  (dists/ and pool/)
//
// pool/main/<letter>/<package>/<file>.deb holds the packages; Packages,
// Release, InRelease and Release.gpg exist at the top (flat) and under
// dists/stable; Release.key is the armored public key (as pkgs.k8s.io
// serves it, for `gpg --dearmor`) and keyring.gpg the same key unarmored
// (for signed-by directly).
const (
	hashSHA256 = crypto.SHA256

	Suite     = "stable"
	Component = "main"
	Arch      = "amd64"
)

// NewSigningKey generates the repository's signing key: EdDSA (ed25519),
// which the gpgv of Debian 12 verifies.
func NewSigningKey(now time.Time) (*openpgp.Entity, error) {
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: hashSHA256, Time: func() time.Time { return now }}
	return openpgp.NewEntity("homelab lab repository", "tools/k8s k8sdist", "homelab@localhost", cfg)
}

// WriteRepository writes debs into dir as a signed apt repository.
func WriteRepository(dir string, debs []Deb, key *openpgp.Entity, now time.Time) error {
	var stanzas []string
	sorted := append([]Deb(nil), debs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Package < sorted[j].Package })
	for _, d := range sorted {
		rel := filepath.ToSlash(filepath.Join("pool", Component, d.Package[:1], d.Package, d.Filename()))
		st, err := writeDeb(filepath.Join(dir, rel), d)
		if err != nil {
			return err
		}
		kb, err := d.installedKB()
		if err != nil {
			return err
		}
		stanzas = append(stanzas, d.Control(kb)+fmt.Sprintf("Filename: %s\nSize: %d\nMD5sum: %s\nSHA256: %s\n", rel, st.size, st.md5, st.sha256))
	}
	packages := []byte(strings.Join(stanzas, "\n"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(packages)
	if err := zw.Close(); err != nil {
		return err
	}
	indexDir := filepath.Join("dists", Suite, Component, "binary-"+Arch)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"Packages", packages}, {"Packages.gz", gz.Bytes()},
		{filepath.Join(indexDir, "Packages"), packages}, {filepath.Join(indexDir, "Packages.gz"), gz.Bytes()},
	} {
		if err := writeFile(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	index := func(prefix string) []indexFile {
		return []indexFile{{prefix + "Packages", packages}, {prefix + "Packages.gz", gz.Bytes()}}
	}
	flat := release(map[string]string{"Origin": "homelab", "Label": "homelab lab mirror", "Architectures": Arch}, now, index(""))
	suite := release(map[string]string{"Origin": "homelab", "Label": "homelab lab mirror", "Suite": Suite, "Codename": Suite, "Architectures": Arch, "Components": Component}, now, index(Component+"/binary-"+Arch+"/"))
	for _, r := range []struct {
		dir  string
		text string
	}{{dir, flat}, {filepath.Join(dir, "dists", Suite), suite}} {
		if err := signRelease(r.dir, r.text, key, now); err != nil {
			return err
		}
	}
	var pub, armored bytes.Buffer
	if err := key.Serialize(&pub); err != nil {
		return err
	}
	aw, err := armor.Encode(&armored, openpgp.PublicKeyType, nil)
	if err != nil {
		return err
	}
	aw.Write(pub.Bytes())
	if err := aw.Close(); err != nil {
		return err
	}
	armored.WriteString("\n")
	if err := writeFile(filepath.Join(dir, "Release.key"), armored.Bytes()); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "keyring.gpg"), pub.Bytes())
}

type indexFile struct {
	name string
	data []byte
}

// release is a Release file: the fields, the date, and the MD5Sum and
// SHA256 of each index file.
func release(fields map[string]string, now time.Time, files []indexFile) string {
	var b strings.Builder
	for _, k := range []string{"Origin", "Label", "Suite", "Codename", "Architectures", "Components"} {
		if v := fields[k]; v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Date: %s\n", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 UTC"))
	b.WriteString("Description: Kubernetes packages built by homelab's tools/k8s for an offline lab\n")
	b.WriteString("MD5Sum:\n")
	for _, f := range files {
		sum := md5.Sum(f.data)
		fmt.Fprintf(&b, " %s %d %s\n", hex.EncodeToString(sum[:]), len(f.data), f.name)
	}
	b.WriteString("SHA256:\n")
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		fmt.Fprintf(&b, " %s %d %s\n", hex.EncodeToString(sum[:]), len(f.data), f.name)
	}
	return b.String()
}

// signRelease writes Release, its detached armored signature Release.gpg
// and the clearsigned InRelease into dir.
func signRelease(dir, text string, key *openpgp.Entity, now time.Time) error {
	cfg := &packet.Config{DefaultHash: hashSHA256, Time: func() time.Time { return now }}
	if err := writeFile(filepath.Join(dir, "Release"), []byte(text)); err != nil {
		return err
	}
	var detached bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&detached, key, strings.NewReader(text), cfg); err != nil {
		return fmt.Errorf("sign %s/Release: %w", dir, err)
	}
	detached.WriteString("\n")
	if err := writeFile(filepath.Join(dir, "Release.gpg"), detached.Bytes()); err != nil {
		return err
	}
	var inline bytes.Buffer
	w, err := clearsign.Encode(&inline, key.PrivateKey, cfg)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, text); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("sign %s/InRelease: %w", dir, err)
	}
	inline.WriteString("\n")
	return writeFile(filepath.Join(dir, "InRelease"), inline.Bytes())
}

type debStat struct {
	size        int64
	md5, sha256 string
}

func writeDeb(file string, d Deb) (debStat, error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return debStat{}, err
	}
	f, err := os.Create(file)
	if err != nil {
		return debStat{}, err
	}
	defer f.Close()
	m, s := md5.New(), sha256.New()
	c := &countingHash{h: s}
	if err := d.Write(io.MultiWriter(f, m, c)); err != nil {
		return debStat{}, err
	}
	if err := f.Close(); err != nil {
		return debStat{}, err
	}
	return debStat{size: c.n, md5: hex.EncodeToString(m.Sum(nil)), sha256: hex.EncodeToString(s.Sum(nil))}, nil
}

func writeFile(file string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o644)
}
