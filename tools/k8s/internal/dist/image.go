// Package dist turns the static binaries tools/k8s/build.sh built into what
// an offline lab installs from: container image archives in the layout of
// `docker save` (which `ctr images import` reads) and .deb packages in a
// signed apt repository laid out like pkgs.k8s.io.
//
// Every archive is deterministic: entries in a fixed order, owned by root,
// with a fixed modification time, so the same binaries give the same bytes.
package dist

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"
)

// epoch is every archive entry's modification time.
var epoch = time.Unix(0, 0).UTC()

// File is one regular file of an image layer or a package: its contents
// come from Source (a file on disk) or Data; or a symbolic link to Link.
type File struct {
	// Path inside the image or package, relative ("usr/local/bin/etcd").
	Path   string
	Mode   fs.FileMode
	Source string
	Data   []byte
	Link   string
}

func (f File) size() (int64, error) {
	if f.Link != "" {
		return 0, nil
	}
	if f.Source == "" {
		return int64(len(f.Data)), nil
	}
	st, err := os.Stat(f.Source)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (f File) copyTo(w io.Writer) error {
	if f.Link != "" {
		return nil
	}
	if f.Source == "" {
		_, err := w.Write(f.Data)
		return err
	}
	in, err := os.Open(f.Source)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(w, in)
	return err
}

// Image is a one-layer container image.
type Image struct {
	// Ref is the name it is imported under
	// ("registry.k8s.io/kube-apiserver:v1.34.2").
	Ref        string
	Files      []File
	Entrypoint []string
	Cmd        []string
}

// imagePath is PATH in every image: the static pod manifests kubeadm writes
// run kube-apiserver, etcd and the others by command name.
const imagePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// base are the files every image has besides its own (distroless-like: a
// passwd and group naming root, nonroot and nobody, and an empty /tmp).
func base() []File {
	return []File{
		{Path: "etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnonroot:x:65532:\nnogroup:x:65534:\n")},
		{Path: "etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")},
	}
}

// TreeFiles lists the regular files and symbolic links under root (a
// directory tree unpacked from packages) as Files at the same relative
// paths, in lexical order.
func TreeFiles(root string) ([]File, error) {
	var out []File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		f := File{Path: filepath.ToSlash(rel)}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if f.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			f.Mode, f.Source = info.Mode().Perm(), p
		default:
			return nil // devices, fifos: none in a package tree
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

// writeTree writes files into tw under prefix ("" or "./"), each parent
// directory once before its first file, and the extra empty directories
// dirs (path → mode).
func writeTree(tw *tar.Writer, prefix string, files []File, dirs map[string]fs.FileMode) error {
	seen := map[string]bool{}
	var mkdir func(dir string, mode fs.FileMode) error
	mkdir = func(dir string, mode fs.FileMode) error {
		if dir == "." || dir == "" || seen[dir] {
			return nil
		}
		if err := mkdir(path.Dir(dir), 0o755); err != nil {
			return err
		}
		seen[dir] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix + dir + "/", Mode: int64(mode.Perm() | dirSticky(mode)), ModTime: epoch, Uname: "root", Gname: "root", Format: tar.FormatGNU})
	}
	if prefix == "./" {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, ModTime: epoch, Uname: "root", Gname: "root", Format: tar.FormatGNU}); err != nil {
			return err
		}
	}
	for _, d := range sortedKeys(dirs) {
		if err := mkdir(d, dirs[d]); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := mkdir(path.Dir(f.Path), 0o755); err != nil {
			return err
		}
		if f.Link != "" {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: prefix + f.Path, Linkname: f.Link, Mode: 0o777, ModTime: epoch, Uname: "root", Gname: "root", Format: tar.FormatGNU}); err != nil {
				return err
			}
			continue
		}
		size, err := f.size()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + f.Path, Mode: int64(f.Mode.Perm()), Size: size, ModTime: epoch, Uname: "root", Gname: "root", Format: tar.FormatGNU}); err != nil {
			return err
		}
		if err := f.copyTo(tw); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	return nil
}

func dirSticky(mode fs.FileMode) fs.FileMode {
	if mode&fs.ModeSticky != 0 {
		return 0o1000
	}
	return 0
}

// writeLayer writes the image's single layer tar to w.
func (img Image) writeLayer(w io.Writer) error {
	tw := tar.NewWriter(w)
	if err := writeTree(tw, "", append(base(), img.Files...), map[string]fs.FileMode{"tmp": fs.ModeSticky | 0o777}); err != nil {
		return err
	}
	return tw.Close()
}

// countingHash is a sha256 that counts what it hashed.
type countingHash struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// WriteArchive writes img as a docker-archive (the `docker save` layout:
// manifest.json, the config blob, <layer digest>/layer.tar) to w. The layer
// is written twice, once to hash it and once into the archive, so nothing
// is buffered: it is deterministic.
func (img Image) WriteArchive(w io.Writer) error {
	layerSum := &countingHash{h: sha256.New()}
	if err := img.writeLayer(layerSum); err != nil {
		return fmt.Errorf("image %s: %w", img.Ref, err)
	}
	layerHex := hex.EncodeToString(layerSum.h.Sum(nil))
	config, err := json.Marshal(imageConfig{
		Architecture: "amd64", OS: "linux", Created: epoch,
		Config:  containerConfig{Env: []string{imagePath}, Entrypoint: img.Entrypoint, Cmd: img.Cmd, WorkingDir: "/"},
		RootFS:  rootFS{Type: "layers", DiffIDs: []string{"sha256:" + layerHex}},
		History: []history{{Created: epoch, CreatedBy: "homelab tools/k8s (k8sdist)"}},
	})
	if err != nil {
		return err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	layerName := layerHex + "/layer.tar"
	manifest, err := json.Marshal([]manifestEntry{{Config: configName, RepoTags: []string{img.Ref}, Layers: []string{layerName}}})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	hdr := func(name string, size int64) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: epoch, Format: tar.FormatGNU}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: layerHex + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatGNU}); err != nil {
		return err
	}
	if err := tw.WriteHeader(hdr(layerName, layerSum.n)); err != nil {
		return err
	}
	if err := img.writeLayer(tw); err != nil {
		return fmt.Errorf("image %s: %w", img.Ref, err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{configName, config}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(hdr(f.name, int64(len(f.data)))); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// The JSON of a docker-archive (image spec v1 config, docker save manifest).
type imageConfig struct {
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Created      time.Time       `json:"created"`
	Config       containerConfig `json:"config"`
	RootFS       rootFS          `json:"rootfs"`
	History      []history       `json:"history"`
}

type containerConfig struct {
	Env        []string `json:"Env"`
	Entrypoint []string `json:"Entrypoint,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
	WorkingDir string   `json:"WorkingDir"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type history struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

type manifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}
