package dist

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// kubeadm v1.34.2's `kubeadm config images list --kubernetes-version v1.34.2`.
var refs134 = []string{
	"registry.k8s.io/kube-apiserver:v1.34.2",
	"registry.k8s.io/kube-controller-manager:v1.34.2",
	"registry.k8s.io/kube-scheduler:v1.34.2",
	"registry.k8s.io/kube-proxy:v1.34.2",
	"registry.k8s.io/coredns/coredns:v1.12.1",
	"registry.k8s.io/pause:3.10.1",
	"registry.k8s.io/etcd:3.6.5-0",
}

// fakeSet is a bin/ directory of small stand-ins for the built binaries.
func fakeSet(t *testing.T) Set {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd", "etcdctl", "etcdutl", "coredns", "pause", "cni/bridge", "cni/host-local", "cni/loopback"} {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		// An odd length exercises the ar padding.
		if err := os.WriteFile(p, []byte("#!/bin/true "+n+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Set{Bin: dir, Kubernetes: "v1.34.2", Etcd: "v3.6.5", CoreDNS: "v1.12.1", CNI: "v1.7.1"}
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

func readTar(t *testing.T, r io.Reader) (order []string, m map[string]entry) {
	t.Helper()
	m = map[string]entry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return order, m
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, h.Name)
		m[h.Name] = entry{h, data}
	}
}

func TestImagesMatchKubeadmList(t *testing.T) {
	s := fakeSet(t)
	imgs, err := s.Images(refs134)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != len(refs134) {
		t.Fatalf("%d images for %d names", len(imgs), len(refs134))
	}
	for _, tc := range []struct {
		ref, want string
	}{
		{"registry.k8s.io/etcd:3.6.4-0", "kubeadm wants etcd 3.6.4, the build has 3.6.5"},
		{"registry.k8s.io/coredns/coredns:v1.12.0", "kubeadm wants coredns v1.12.0"},
		{"registry.k8s.io/kube-apiserver:v1.33.0", "kubeadm wants kube-apiserver v1.33.0"},
		{"registry.k8s.io/kube-dns:v1", "no binary for kube-dns"},
		{"registry.k8s.io/pause", "has no tag"},
	} {
		if _, err := s.Images([]string{tc.ref}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Images(%s) = %v, want an error containing %q", tc.ref, err, tc.want)
		}
	}
}

// The archive is docker save's layout: manifest.json naming the tag, a
// config whose diff_id is the layer's digest, one layer with the binary,
// passwd, group and a sticky /tmp; entrypoints as the manifests expect.
func TestImageArchiveLayout(t *testing.T) {
	s := fakeSet(t)
	imgs, err := s.Images(refs134)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		var buf bytes.Buffer
		if err := img.WriteArchive(&buf); err != nil {
			t.Fatal(err)
		}
		var again bytes.Buffer
		if err := img.WriteArchive(&again); err != nil || !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Fatalf("%s: the archive is not deterministic (%v)", img.Ref, err)
		}
		_, files := readTar(t, &buf)
		var manifest []manifestEntry
		if err := json.Unmarshal(files["manifest.json"].data, &manifest); err != nil {
			t.Fatal(err)
		}
		if len(manifest) != 1 || len(manifest[0].RepoTags) != 1 || manifest[0].RepoTags[0] != img.Ref || len(manifest[0].Layers) != 1 {
			t.Fatalf("%s: manifest %+v", img.Ref, manifest)
		}
		configData := files[manifest[0].Config].data
		sum := sha256.Sum256(configData)
		if manifest[0].Config != hex.EncodeToString(sum[:])+".json" {
			t.Errorf("%s: config %s is not named by its digest", img.Ref, manifest[0].Config)
		}
		var config imageConfig
		if err := json.Unmarshal(configData, &config); err != nil {
			t.Fatal(err)
		}
		layer := files[manifest[0].Layers[0]].data
		lsum := sha256.Sum256(layer)
		if len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(lsum[:]) {
			t.Errorf("%s: diff_ids %v, layer sha256:%x", img.Ref, config.RootFS.DiffIDs, lsum)
		}
		if config.OS != "linux" || config.Architecture != "amd64" || !strings.Contains(strings.Join(config.Config.Env, " "), "/usr/local/bin") {
			t.Errorf("%s: config %+v", img.Ref, config)
		}
		_, layerFiles := readTar(t, bytes.NewReader(layer))
		name, _, _ := strings.Cut(img.Ref[strings.LastIndex(img.Ref, "/")+1:], ":")
		binPath, entry := "usr/local/bin/"+name, []string{"/usr/local/bin/" + name}
		switch name {
		case "coredns", "pause":
			binPath, entry = name, []string{"/" + name}
		case "etcd":
			entry = nil
			if strings.Join(config.Config.Cmd, " ") != "/usr/local/bin/etcd" {
				t.Errorf("etcd: Cmd %v", config.Config.Cmd)
			}
			// homelab's control-plane gate and backup run etcdctl in
			// the etcd pod; a restore runs etcdutl from the image.
			for _, tool := range []string{"etcdctl", "etcdutl"} {
				if f, ok := layerFiles["usr/local/bin/"+tool]; !ok || f.hdr.Mode != 0o755 || !strings.Contains(string(f.data), tool) {
					t.Errorf("etcd: usr/local/bin/%s missing or wrong in the layer: %+v", tool, f.hdr)
				}
			}
		}
		if strings.Join(config.Config.Entrypoint, " ") != strings.Join(entry, " ") {
			t.Errorf("%s: Entrypoint %v, want %v", img.Ref, config.Config.Entrypoint, entry)
		}
		if f, ok := layerFiles[binPath]; !ok || f.hdr.Mode != 0o755 || !strings.Contains(string(f.data), name) {
			t.Errorf("%s: %s missing or wrong in the layer: %+v", img.Ref, binPath, f.hdr)
		}
		if !strings.HasPrefix(string(layerFiles["etc/passwd"].data), "root:x:0:0:") || !strings.HasPrefix(string(layerFiles["etc/group"].data), "root:x:0:") {
			t.Errorf("%s: passwd/group %q %q", img.Ref, layerFiles["etc/passwd"].data, layerFiles["etc/group"].data)
		}
		if tmp, ok := layerFiles["tmp/"]; !ok || tmp.hdr.Typeflag != tar.TypeDir || tmp.hdr.Mode != 0o1777 {
			t.Errorf("%s: tmp/ %+v", img.Ref, tmp.hdr)
		}
	}
}

// arMember is one member of an ar archive, read the way dpkg does.
type arMember struct {
	name string
	data []byte
}

func readAr(t *testing.T, data []byte) []arMember {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("!<arch>\n")) {
		t.Fatalf("no ar magic: %q", data[:min(8, len(data))])
	}
	data = data[8:]
	var out []arMember
	for len(data) > 0 {
		if len(data) < 60 || string(data[58:60]) != "`\n" {
			t.Fatalf("bad ar header %q", data[:min(60, len(data))])
		}
		size, err := strconv.Atoi(strings.TrimSpace(string(data[48:58])))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, arMember{strings.TrimRight(string(data[:16]), " /"), data[60 : 60+size]})
		data = data[60+size+size%2:]
	}
	return out
}

func gunzipTar(t *testing.T, data []byte) ([]string, map[string]entry) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return readTar(t, zr)
}

func TestDebLayout(t *testing.T) {
	debs, err := fakeSet(t).Debs()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Deb{}
	for _, d := range debs {
		byName[d.Package] = d
	}
	var buf bytes.Buffer
	if err := byName["kubelet"].Write(&buf); err != nil {
		t.Fatal(err)
	}
	members := readAr(t, buf.Bytes())
	if len(members) != 3 || members[0].name != "debian-binary" || string(members[0].data) != "2.0\n" || members[1].name != "control.tar.gz" || members[2].name != "data.tar.gz" {
		t.Fatalf("members %v", members)
	}
	_, control := gunzipTar(t, members[1].data)
	c := string(control["./control"].data)
	for _, want := range []string{"Package: kubelet\n", "Version: 1.34.2-1.1\n", "Architecture: amd64\n", "Depends: kubernetes-cni (>= 1.2.0), mount, util-linux\n", "Recommends: iptables (>= 1.8.4)\n", "Description: Node agent for Kubernetes clusters\n"} {
		if !strings.Contains(c, want) {
			t.Errorf("control lacks %q:\n%s", want, c)
		}
	}
	if string(control["./conffiles"].data) != "/etc/default/kubelet\n" || control["./postinst"].hdr.Mode != 0o755 {
		t.Errorf("conffiles %q, postinst %+v", control["./conffiles"].data, control["./postinst"].hdr)
	}
	if !strings.Contains(string(control["./md5sums"].data), "  usr/bin/kubelet\n") {
		t.Errorf("md5sums: %s", control["./md5sums"].data)
	}
	order, data := gunzipTar(t, members[2].data)
	if order[0] != "./" {
		t.Errorf("data.tar starts with %q", order[0])
	}
	for _, p := range []string{"./usr/bin/kubelet", "./usr/lib/systemd/system/kubelet.service", "./etc/default/kubelet", "./var/lib/kubelet/.kubelet-keep", "./etc/kubernetes/manifests/.kubelet-keep"} {
		if _, ok := data[p]; !ok {
			t.Errorf("data.tar lacks %s: %v", p, order)
		}
	}
	if !strings.Contains(string(data["./usr/lib/systemd/system/kubelet.service"].data), "ExecStart=/usr/bin/kubelet\n") {
		t.Errorf("kubelet.service: %s", data["./usr/lib/systemd/system/kubelet.service"].data)
	}

	buf.Reset()
	if err := byName["kubeadm"].Write(&buf); err != nil {
		t.Fatal(err)
	}
	_, data = gunzipTar(t, readAr(t, buf.Bytes())[2].data)
	if !strings.Contains(string(data["./usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"].data), "$KUBELET_KUBEADM_ARGS") {
		t.Errorf("kubeadm has no 10-kubeadm.conf drop-in: %v", data)
	}
	if c := byName["kubeadm"].Control(1); strings.Contains(c, "Depends:") {
		t.Errorf("kubeadm 1.34 depends on nothing:\n%s", c)
	}
	if d := byName["kubernetes-cni"]; d.Version != "1.7.1-1.1" || len(d.Files) != 3 || d.Files[0].Path != "opt/cni/bin/bridge" {
		t.Errorf("kubernetes-cni: %s %+v", d.Version, d.Files)
	}
}

// dpkg-deb itself accepts every package and lists its files.
func TestDpkgDebAcceptsPackages(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb here")
	}
	debs, err := fakeSet(t).Debs()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range debs {
		file := filepath.Join(dir, d.Filename())
		if _, err := writeDeb(file, d); err != nil {
			t.Fatal(err)
		}
		info, err := exec.Command("dpkg-deb", "--info", file).CombinedOutput()
		if err != nil || !strings.Contains(string(info), " Package: "+d.Package+"\n") {
			t.Errorf("dpkg-deb --info %s: %v\n%s", d.Filename(), err, info)
		}
		contents, err := exec.Command("dpkg-deb", "--contents", file).CombinedOutput()
		if err != nil || !strings.Contains(string(contents), "./"+d.Files[0].Path+"\n") {
			t.Errorf("dpkg-deb --contents %s: %v\n%s", d.Filename(), err, contents)
		}
		extract := filepath.Join(dir, d.Package)
		if out, err := exec.Command("dpkg-deb", "--extract", file, extract).CombinedOutput(); err != nil {
			t.Errorf("dpkg-deb --extract %s: %v\n%s", d.Filename(), err, out)
		} else if got, _ := os.ReadFile(filepath.Join(extract, d.Files[0].Path)); len(got) == 0 {
			t.Errorf("%s: %s empty after extraction", d.Filename(), d.Files[0].Path)
		}
	}
}

func writeRepo(t *testing.T) (string, *openpgp.Entity) {
	t.Helper()
	debs, err := fakeSet(t).Debs()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	key, err := NewSigningKey(now)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteRepository(dir, debs, key, now); err != nil {
		t.Fatal(err)
	}
	return dir, key
}

// The index and Release files name the packages and each other by size and
// digest, and the signatures verify with the published key.
func TestRepositoryIndexesAndSignatures(t *testing.T) {
	dir, _ := writeRepo(t)
	packages, err := os.ReadFile(filepath.Join(dir, "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	stanzas := strings.Split(strings.TrimSpace(string(packages)), "\n\n")
	if len(stanzas) != 4 {
		t.Fatalf("%d stanzas:\n%s", len(stanzas), packages)
	}
	for _, s := range stanzas {
		fields := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(s))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ": "); ok && !strings.HasPrefix(k, " ") {
				fields[k] = v
			}
		}
		deb, err := os.ReadFile(filepath.Join(dir, fields["Filename"]))
		if err != nil {
			t.Fatalf("%s: %v", fields["Package"], err)
		}
		sum := sha256.Sum256(deb)
		if fields["Size"] != fmt.Sprint(len(deb)) || fields["SHA256"] != hex.EncodeToString(sum[:]) || !strings.HasPrefix(fields["Filename"], "pool/main/") {
			t.Errorf("%s: Size %s SHA256 %s Filename %s, file %d %x", fields["Package"], fields["Size"], fields["SHA256"], fields["Filename"], len(deb), sum)
		}
	}
	keyring, err := os.Open(filepath.Join(dir, "Release.key"))
	if err != nil {
		t.Fatal(err)
	}
	defer keyring.Close()
	keys, err := openpgp.ReadArmoredKeyRing(keyring)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ dir, index string }{{dir, "Packages"}, {filepath.Join(dir, "dists", Suite), "main/binary-amd64/Packages"}} {
		rel, err := os.ReadFile(filepath.Join(r.dir, "Release"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(packages)
		if want := fmt.Sprintf(" %x %d %s\n", sum, len(packages), r.index); !strings.Contains(string(rel), want) {
			t.Errorf("%s/Release lacks %q:\n%s", r.dir, want, rel)
		}
		sig, err := os.Open(filepath.Join(r.dir, "Release.gpg"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := openpgp.CheckArmoredDetachedSignature(keys, bytes.NewReader(rel), sig, nil); err != nil {
			t.Errorf("%s/Release.gpg: %v", r.dir, err)
		}
		sig.Close()
		inline, err := os.ReadFile(filepath.Join(r.dir, "InRelease"))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := clearsign.Decode(inline)
		if block == nil || !bytes.Equal(bytes.TrimRight(block.Plaintext, "\n"), bytes.TrimRight(rel, "\n")) {
			t.Fatalf("%s/InRelease does not hold Release", r.dir)
		}
		if _, err := block.VerifySignature(keys, nil); err != nil {
			t.Errorf("%s/InRelease: %v", r.dir, err)
		}
	}
}

// apt itself (as root, in a private state directory) fetches the signed
// repository both ways, flat and suite, and picks the packages as
// candidates; gpgv verifies InRelease against keyring.gpg.
func TestAptAcceptsRepository(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs apt-get and root")
	}
	dir, _ := writeRepo(t)
	if _, err := exec.LookPath("gpgv"); err == nil {
		if out, err := exec.Command("gpgv", "--keyring", filepath.Join(dir, "keyring.gpg"), filepath.Join(dir, "InRelease")).CombinedOutput(); err != nil {
			t.Errorf("gpgv InRelease: %v\n%s", err, out)
		}
	}
	for _, line := range []string{"file:" + dir + "/ /", "file:" + dir + "/ stable main"} {
		state := t.TempDir()
		for _, d := range []string{"lists/partial", "cache/archives/partial", "etc"} {
			os.MkdirAll(filepath.Join(state, d), 0o755)
		}
		os.WriteFile(filepath.Join(state, "status"), nil, 0o644)
		os.WriteFile(filepath.Join(state, "etc/sources.list"), []byte("deb [signed-by="+dir+"/keyring.gpg] "+line+"\n"), 0o644)
		opts := []string{
			"-o", "Dir::Etc::SourceList=" + state + "/etc/sources.list", "-o", "Dir::Etc::SourceParts=" + state + "/etc",
			"-o", "Dir::State::Lists=" + state + "/lists", "-o", "Dir::State::status=" + state + "/status",
			"-o", "Dir::Cache=" + state + "/cache", "-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=1",
		}
		out, err := exec.Command("apt-get", append(opts, "update")...).CombinedOutput()
		if err != nil || strings.Contains(string(out), "W:") || strings.Contains(string(out), "E:") {
			t.Fatalf("apt-get update (%s): %v\n%s", line, err, out)
		}
		out, err = exec.Command("apt-cache", append(opts, "policy", "kubelet", "kubeadm")...).CombinedOutput()
		if err != nil || strings.Count(string(out), "Candidate: 1.34.2-1.1") != 2 {
			t.Errorf("apt-cache policy (%s): %v\n%s", line, err, out)
		}
	}
}

// A base tree (kube-proxy's iptables) joins the image's layer: regular
// files with their modes, symbolic links as links.
func TestImageBaseTree(t *testing.T) {
	s := fakeSet(t)
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "usr/sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "usr/sbin/xtables-nft-multi"), []byte("elf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("xtables-nft-multi", filepath.Join(base, "usr/sbin/iptables")); err != nil {
		t.Fatal(err)
	}
	s.Bases = map[string]string{"kube-proxy": base}
	imgs, err := s.Images([]string{"registry.k8s.io/kube-proxy:v1.34.2", "registry.k8s.io/kube-scheduler:v1.34.2"})
	if err != nil {
		t.Fatal(err)
	}
	layer := func(img Image) map[string]entry {
		var buf bytes.Buffer
		if err := img.writeLayer(&buf); err != nil {
			t.Fatal(err)
		}
		_, files := readTar(t, &buf)
		return files
	}
	proxy := layer(imgs[0])
	if f := proxy["usr/sbin/xtables-nft-multi"]; f.hdr == nil || f.hdr.Typeflag != tar.TypeReg || f.hdr.Mode != 0o755 || string(f.data) != "elf" {
		t.Errorf("xtables-nft-multi: %+v", f.hdr)
	}
	if f := proxy["usr/sbin/iptables"]; f.hdr == nil || f.hdr.Typeflag != tar.TypeSymlink || f.hdr.Linkname != "xtables-nft-multi" {
		t.Errorf("iptables link: %+v", f.hdr)
	}
	if _, ok := proxy["usr/local/bin/kube-proxy"]; !ok {
		t.Error("kube-proxy binary missing beside its base")
	}
	if _, ok := layer(imgs[1])["usr/sbin/iptables"]; ok {
		t.Error("the kube-proxy base leaked into kube-scheduler's image")
	}
}
