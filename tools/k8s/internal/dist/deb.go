package dist

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Deb is a binary package.
type Deb struct {
	Package      string
	Version      string
	Architecture string
	Section      string
	Depends      []string
	Recommends   []string
	Description  string // first line is the synopsis
	Homepage     string
	Files        []File
	// Dirs are empty directories the package owns (path → mode).
	Dirs map[string]fs.FileMode
	// Conffiles are /-rooted paths of Files that dpkg treats as
	// configuration (kept on upgrade when the admin changed them).
	Conffiles []string
	// Scripts are maintainer scripts by name (postinst, prerm, postrm).
	Scripts map[string]string
}

// Filename is the package's file name in the Debian convention.
func (d Deb) Filename() string {
	return fmt.Sprintf("%s_%s_%s.deb", d.Package, d.Version, d.Architecture)
}

// Control is the package's control file. installedKB is Installed-Size.
func (d Deb) Control(installedKB int64) string {
	var b strings.Builder
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	field("Package", d.Package)
	field("Version", d.Version)
	field("Architecture", d.Architecture)
	field("Maintainer", "homelab tools/k8s <homelab@localhost>")
	field("Installed-Size", fmt.Sprint(installedKB))
	field("Depends", strings.Join(d.Depends, ", "))
	field("Recommends", strings.Join(d.Recommends, ", "))
	field("Section", d.Section)
	field("Priority", "optional")
	field("Homepage", d.Homepage)
	synopsis, long, _ := strings.Cut(strings.TrimSpace(d.Description), "\n")
	b.WriteString("Description: " + synopsis + "\n")
	for _, l := range strings.Split(long, "\n") {
		if l = strings.TrimSpace(l); l == "" && long != "" {
			b.WriteString(" .\n")
		} else if l != "" {
			b.WriteString(" " + l + "\n")
		}
	}
	return b.String()
}

// installedKB is the sum of the files' sizes in KiB, rounded up.
func (d Deb) installedKB() (int64, error) {
	var total int64
	for _, f := range d.Files {
		n, err := f.size()
		if err != nil {
			return 0, err
		}
		total += (n + 1023) / 1024
	}
	return total, nil
}

// Write writes the .deb to w: an ar archive of debian-binary,
// control.tar.gz and data.tar.gz, as dpkg-deb --build lays it out.
func (d Deb) Write(w io.Writer) error {
	kb, err := d.installedKB()
	if err != nil {
		return fmt.Errorf("package %s: %w", d.Package, err)
	}
	control, err := d.controlTar(d.Control(kb))
	if err != nil {
		return fmt.Errorf("package %s: control: %w", d.Package, err)
	}
	data, err := os.CreateTemp("", "k8sdist-data-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(data.Name())
	defer data.Close()
	if err := d.dataTar(data); err != nil {
		return fmt.Errorf("package %s: data: %w", d.Package, err)
	}
	size, err := data.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := data.Seek(0, io.SeekStart); err != nil {
		return err
	}
	ar := newArWriter(w)
	if err := ar.add("debian-binary", 4, strings.NewReader("2.0\n")); err != nil {
		return err
	}
	if err := ar.add("control.tar.gz", int64(len(control)), bytes.NewReader(control)); err != nil {
		return err
	}
	return ar.add("data.tar.gz", size, data)
}

// md5sums is the control member listing each file's MD5 (dpkg --verify).
func (d Deb) md5sums() (string, error) {
	var b strings.Builder
	for _, f := range d.Files {
		if f.Link != "" {
			continue
		}
		h := md5.New()
		if err := f.copyTo(h); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), f.Path)
	}
	return b.String(), nil
}

func (d Deb) controlTar(control string) ([]byte, error) {
	sums, err := d.md5sums()
	if err != nil {
		return nil, err
	}
	files := []File{{Path: "control", Mode: 0o644, Data: []byte(control)}, {Path: "md5sums", Mode: 0o644, Data: []byte(sums)}}
	if len(d.Conffiles) > 0 {
		files = append(files, File{Path: "conffiles", Mode: 0o644, Data: []byte(strings.Join(d.Conffiles, "\n") + "\n")})
	}
	for _, name := range sortedKeys(d.Scripts) {
		files = append(files, File{Path: name, Mode: 0o755, Data: []byte(d.Scripts[name])})
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := writeTree(tw, "./", files, nil); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (d Deb) dataTar(w io.Writer) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	if err := writeTree(tw, "./", d.Files, d.Dirs); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// arWriter writes the common ar format dpkg reads: the "!<arch>\n" magic,
// then per member a 60-byte header (name, mtime, uid, gid, octal mode,
// decimal size, "`\n") and the data padded to an even length with "\n".
type arWriter struct {
	w       io.Writer
	started bool
}

func newArWriter(w io.Writer) *arWriter { return &arWriter{w: w} }

// add writes one member of size bytes read from r.
func (a *arWriter) add(name string, size int64, r io.Reader) error {
	if !a.started {
		if _, err := io.WriteString(a.w, "!<arch>\n"); err != nil {
			return err
		}
		a.started = true
	}
	if len(name) > 16 {
		return fmt.Errorf("ar member name %q is longer than 16 characters", name)
	}
	hdr := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, 0, 0, 0, 0o100644, size)
	if len(hdr) != 60 {
		return fmt.Errorf("ar header for %s: %d bytes", name, len(hdr))
	}
	if _, err := io.WriteString(a.w, hdr); err != nil {
		return err
	}
	n, err := io.Copy(a.w, r)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("ar member %s: wrote %d bytes, header says %d", name, n, size)
	}
	if size%2 == 1 {
		_, err = io.WriteString(a.w, "\n")
	}
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cleanPath reports whether p is a relative, clean path inside a tree.
func cleanPath(p string) bool {
	return p != "" && !path.IsAbs(p) && path.Clean(p) == p && !strings.HasPrefix(p, "../")
}
