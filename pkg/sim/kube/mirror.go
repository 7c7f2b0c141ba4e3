package kube

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// Mirror is a lab's own package and image server, as tools/k8s lays it
// out: a flat apt repository under /apt/ (Release.key, InRelease,
// Packages, with pkgs.k8s.io's package names and versions) and
// docker-archive tarballs under /images/, one per image, named as
// k8sdist names them (registry.k8s.io/coredns/coredns:v1.12.1 is
// coredns_coredns_v1.12.1.tar), listed in images/images.txt.
type Mirror struct {
	// Host is the name the nodes reach it at (through
	// host.LabOptions.Internet).
	Host string
	// Images are the image references it holds archives of.
	Images []string
	// Files, when set, map an archive's file name to the reference its
	// manifest.json carries, overriding the name k8sdist gives (a file
	// named after another image).
	Files map[string]string
}

// ArchiveFile is the file name k8sdist gives an image's archive: the
// reference without its registry, "/" and ":" as "_", and ".tar".
func ArchiveFile(ref string) string {
	if i := strings.Index(ref, "/"); i >= 0 && strings.ContainsAny(ref[:i], ".:") {
		ref = ref[i+1:]
	}
	return strings.NewReplacer("/", "_", ":", "_").Replace(ref) + ".tar"
}

// files maps each archive's file name to the reference it holds.
func (m *Mirror) files() map[string]string {
	out := map[string]string{}
	for _, ref := range m.Images {
		out[ArchiveFile(ref)] = ref
	}
	for f, ref := range m.Files {
		out[f] = ref
	}
	return out
}

// handler serves the mirror.
func (m *Mirror) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		files := m.files()
		switch p := r.URL.Path; {
		case p == "/apt/Release.key":
			fmt.Fprint(w, releaseKey())
		case p == "/apt/InRelease":
			fmt.Fprint(w, "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: homelab lab mirror\nLabel: k8s\nArchitectures: amd64\n")
		case p == "/apt/Packages":
			for minor := 24; minor <= 37; minor++ {
				fmt.Fprint(w, packagesIndex(minor))
			}
		case p == "/images/images.txt":
			names := make([]string, 0, len(files))
			for f := range files {
				names = append(names, f)
			}
			slices.Sort(names)
			for _, f := range names {
				fmt.Fprintf(w, "%s %s\n", f, files[f])
			}
		case strings.HasPrefix(p, "/images/") && files[strings.TrimPrefix(p, "/images/")] != "":
			w.Write(imageArchive(files[strings.TrimPrefix(p, "/images/")]))
		default:
			http.NotFound(w, r)
		}
	})
}

// archiveManifest is one entry of a docker-archive's manifest.json.
type archiveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// imageArchive is a one-layer docker-archive tarball (the `docker save`
// layout) of ref.
func imageArchive(ref string) []byte {
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/usr/local/bin/%s"]},"rootfs":{"type":"layers","diff_ids":[]}}`, filepath.Base(strings.Split(ref, ":")[0])))
	sum := sha256.Sum256(append(config, ref...))
	id := hex.EncodeToString(sum[:])
	manifest, _ := json.Marshal([]archiveManifest{{Config: id + ".json", RepoTags: []string{ref}, Layers: []string{id + "/layer.tar"}}})
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range []struct {
		name string
		data []byte
	}{{"manifest.json", manifest}, {id + ".json", config}, {id + "/layer.tar", nil}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data))})
		tw.Write(f.data)
	}
	tw.Close()
	return b.Bytes()
}

// readArchive returns the references a docker-archive's manifest.json
// names.
func readArchive(r io.Reader) ([]string, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, err
		}
		if h.Name != "manifest.json" {
			continue
		}
		var ms []archiveManifest
		if err := json.NewDecoder(tr).Decode(&ms); err != nil {
			return nil, err
		}
		var refs []string
		for _, m := range ms {
			refs = append(refs, m.RepoTags...)
		}
		return refs, nil
	}
}

// imagesFile is where the simulated containerd keeps its image names
// ("namespace reference" per line).
const imagesFile = "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db"

// ctrProgram is containerd's `ctr [-n NS] images import FILE` and `ctr
// [-n NS] images ls [-q]`, against the running containerd.
func (s *Sim) ctr(_ context.Context, c *host.Call) int {
	args, ns := c.Args[1:], "default"
	for len(args) > 1 && (args[0] == "-n" || args[0] == "--namespace") {
		ns, args = args[1], args[2:]
	}
	if len(args) < 2 || (args[0] != "images" && args[0] != "image" && args[0] != "i" && args[0] != "run") {
		fmt.Fprintln(c.Stderr, "ctr: the simulated ctr answers images import, images ls and run")
		return 1
	}
	if !c.Host.Unit("containerd").Active {
		fmt.Fprintln(c.Stderr, `ctr: failed to dial "/run/containerd/containerd.sock": context deadline exceeded: connection error: desc = "transport: error while dialing: dial unix:///run/containerd/containerd.sock: timeout"`)
		return 1
	}
	if !c.Root() {
		fmt.Fprintln(c.Stderr, `ctr: failed to dial "/run/containerd/containerd.sock": connection error: desc = "transport: error while dialing: dial unix /run/containerd/containerd.sock: connect: permission denied"`)
		return 1
	}
	if args[0] == "run" {
		return s.ctrRun(c, ns, args[1:])
	}
	s.ctrMu.Lock()
	defer s.ctrMu.Unlock()
	store := c.Local(imagesFile)
	have, _ := os.ReadFile(store)
	switch args[1] {
	case "ls", "list":
		var refs []string
		for _, l := range strings.Split(string(have), "\n") {
			if n, ref, ok := strings.Cut(l, " "); ok && n == ns {
				refs = append(refs, ref)
			}
		}
		slices.Sort(refs)
		if !slices.Contains(args[2:], "-q") && !slices.Contains(args[2:], "--quiet") {
			fmt.Fprintln(c.Stdout, "REF TYPE DIGEST SIZE PLATFORMS LABELS")
		}
		for _, r := range refs {
			fmt.Fprintln(c.Stdout, r)
		}
		return 0
	case "import":
		var file string
		for _, a := range args[2:] {
			if !strings.HasPrefix(a, "-") {
				file = a
			}
		}
		f, err := os.Open(c.Local(file))
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(c.Stderr, "ctr: open %s: no such file or directory\n", file)
			return 1
		}
		if err != nil {
			fmt.Fprintf(c.Stderr, "ctr: %v\n", err)
			return 1
		}
		defer f.Close()
		refs, err := readArchive(f)
		if err != nil || len(refs) == 0 {
			fmt.Fprintln(c.Stderr, "ctr: unrecognized image format")
			return 1
		}
		text := string(have)
		for _, ref := range refs {
			sum := sha256.Sum256([]byte(ref))
			fmt.Fprintf(c.Stdout, "unpacking %s (sha256:%s)...done\n", ref, hex.EncodeToString(sum[:]))
			if !strings.Contains("\n"+text, "\n"+ns+" "+ref+"\n") {
				text += ns + " " + ref + "\n"
			}
		}
		os.MkdirAll(filepath.Dir(store), 0o700)
		if err := os.WriteFile(store, []byte(text), 0o600); err != nil {
			fmt.Fprintf(c.Stderr, "ctr: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(c.Stderr, "ctr: no such command %q\n", args[1])
	return 1
}
