package kube

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// Packages returns containerd (Debian 12's) and the upstream Kubernetes
// packages (pkgs.k8s.io: installable once a sources list names the minor's
// repository, with its keyring, and `apt-get update` fetched it), for
// host.LabOptions.Packages.
func (s *Sim) Packages() []host.Package {
	return []host.Package{
		{Name: "containerd", Version: "1.6.20~ds1-1+b1", Binaries: []string{"/usr/bin/containerd", "/usr/bin/ctr"},
			Depends: []string{"runc"}, Units: []string{"containerd.service"}, Enable: []string{"containerd.service"},
			Files: map[string]string{"/usr/lib/systemd/system/containerd.service": "[Unit]\nDescription=containerd container runtime\n"}},
		{Name: "runc", Version: "1.1.5+ds1-1+deb12u1", Binaries: []string{"/usr/sbin/runc"}},
		{Name: "kubelet", External: true, Binaries: []string{"/usr/bin/kubelet"}, Depends: []string{"kubernetes-cni"},
			Dirs: []string{"/etc/kubernetes/manifests"}, Units: []string{"kubelet.service"}, Enable: []string{"kubelet.service"},
			Files: map[string]string{
				"/usr/lib/systemd/system/kubelet.service":                   "[Unit]\nDescription=kubelet: The Kubernetes Node Agent\n",
				"/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": "# Note: This dropin only works with kubeadm and kubelet v1.11+\n[Service]\nEnvironment=\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf\"\n",
			},
			ActiveState: kubeletState},
		{Name: "kubeadm", External: true, Binaries: []string{"/usr/bin/kubeadm"}, Depends: []string{"cri-tools"}},
		{Name: "kubectl", External: true, Binaries: []string{"/usr/bin/kubectl"}},
		{Name: "cri-tools", External: true, Binaries: []string{"/usr/bin/crictl"}},
		{Name: "kubernetes-cni", External: true, Dirs: []string{"/opt/cni/bin"}},
	}
}

// kubeletState is the kubelet unit's state: it crash-loops
// ("activating", auto-restart) until kubeadm wrote its configuration,
// while swap is on, and on a cgroup v1 host when its configuration's
// failCgroupV1 is true (the default from 1.35).
func kubeletState(h *host.Host, _ string) string {
	config, err := os.ReadFile(filepath.Join(h.Root(), kubeletDir, "config.yaml"))
	if err != nil {
		return "activating"
	}
	if swapOn(h) {
		return "activating"
	}
	if cgroupV1(h) && failsCgroupV1(kubeVersion(h, "kubelet"), config) {
		// pkg/kubelet/apis/config/validation/validation_linux.go: "kubelet
		// is configured to not run on a host using cgroup v1. cgroup v1
		// support is unsupported and will be removed in a future release".
		return "activating"
	}
	return ""
}

// failCgroupV1DefaultMinor is the first kubelet minor whose failCgroupV1
// defaults to true (pkg/kubelet/apis/config/v1beta1/defaults.go).
const failCgroupV1DefaultMinor = 35

// failsCgroupV1 reports whether a kubelet of version (v1.35.4) with the
// KubeletConfiguration config refuses to run on cgroup v1.
func failsCgroupV1(version string, config []byte) bool {
	for _, l := range strings.Split(string(config), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "failCgroupV1:"); ok {
			return strings.TrimSpace(v) == "true"
		}
	}
	return minorOf(version) >= failCgroupV1DefaultMinor
}

// cgroupV1 reports whether the host runs the cgroup v1 hierarchy: no
// /sys/fs/cgroup/cgroup.controllers (host.Spec.CgroupV1).
func cgroupV1(h *host.Host) bool {
	_, err := os.Stat(filepath.Join(h.Root(), "/sys/fs/cgroup/cgroup.controllers"))
	return err != nil
}

// swapOn reports whether /proc/swaps lists a swap.
func swapOn(h *host.Host) bool {
	b, _ := os.ReadFile(filepath.Join(h.Root(), "/proc/swaps"))
	return len(strings.Split(strings.TrimSpace(string(b)), "\n")) > 1
}

// installedVersion returns a package's installed version from dpkg's
// status.
func installedVersion(h *host.Host, name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(h.Root(), "/var/lib/dpkg/status"))
	if err != nil {
		return "", false
	}
	for _, st := range strings.Split(string(b), "\n\n") {
		if !strings.HasPrefix(st, "Package: "+name+"\n") {
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(st))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Version: "); ok {
				return v, true
			}
		}
	}
	return "", false
}

// kubeVersion is the Kubernetes version of an installed package
// ("1.31.4-1.1" gives "v1.31.4").
func kubeVersion(h *host.Host, pkg string) string {
	v, ok := installedVersion(h, pkg)
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, "-")
	return "v" + v
}

var (
	repoPath   = regexp.MustCompile(`^/core:/stable:/v1\.(\d+)/deb/(Release\.key|InRelease|Packages)$`)
	calicoPath = regexp.MustCompile(`^/projectcalico/calico/(v3\.\d+\.\d+)/manifests/calico\.yaml$`)
)

// Internet returns the servers outside the lab the nodes reach, for
// host.LabOptions.Internet: pkgs.k8s.io (the repositories of Kubernetes
// 1.24 to 1.37, each with patches 0 to 20), raw.githubusercontent.com
// (Calico's manifests), and the registries containerd pulls from:
// registry.k8s.io (kubeadm's images) and registry-1.docker.io (docker.io,
// Calico's). A test of an air-gapped lab deletes the registries.
func (s *Sim) Internet() map[string]http.Handler {
	internet := map[string]http.Handler{
		"pkgs.k8s.io": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m := repoPath.FindStringSubmatch(r.URL.Path)
			minor := 0
			if m != nil {
				minor, _ = strconv.Atoi(m[1])
			}
			if m == nil || minor < 24 || minor > 37 {
				http.NotFound(w, r)
				return
			}
			switch m[2] {
			case "Release.key":
				fmt.Fprint(w, releaseKey())
			case "InRelease":
				fmt.Fprintf(w, "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: obs://build.opensuse.org/isv:kubernetes:core:stable:v1.%d/deb\nLabel: deb\nArchitectures: amd64 arm64 ppc64le s390x\n", minor)
			case "Packages":
				fmt.Fprint(w, packagesIndex(minor))
			}
		}),
		"raw.githubusercontent.com": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m := calicoPath.FindStringSubmatch(r.URL.Path)
			if m == nil {
				http.Error(w, "404: Not Found", http.StatusNotFound)
				return
			}
			fmt.Fprint(w, calicoManifest(m[1]))
		}),
		"registry.k8s.io":      registry(k8sRepositories...),
		"registry-1.docker.io": registry(calicoRepositories...),
	}
	if m := s.opts.Mirror; m != nil {
		internet[m.Host] = m.handler()
	}
	return internet
}

// packagesIndex is the Packages index of a minor's repository.
func packagesIndex(minor int) string {
	var b strings.Builder
	stanza := func(name, version string) {
		fmt.Fprintf(&b, "Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: Kubernetes Authors <dev@kubernetes.io>\nFilename: amd64/%s_%s_amd64.deb\n\n", name, version, name, version)
	}
	for patch := 0; patch <= 20; patch++ {
		for _, p := range []string{"kubeadm", "kubectl", "kubelet"} {
			stanza(p, fmt.Sprintf("1.%d.%d-1.1", minor, patch))
		}
	}
	stanza("cri-tools", fmt.Sprintf("1.%d.0-1.1", minor))
	stanza("kubernetes-cni", "1.5.1-1.1")
	return b.String()
}

// releaseKey is an armored public key block standing for pkgs.k8s.io's
// (its bytes are not a real OpenPGP key: the simulated apt only checks
// that the keyring is there, dearmored).
func releaseKey() string {
	sum := sha256.Sum256([]byte("isv:kubernetes OBS Project <isv:kubernetes@build.opensuse.org>"))
	raw := append([]byte{0x99, 0x01, 0x0d, 0x04}, sum[:]...)
	for len(raw) < 270 {
		raw = append(raw, sum[len(raw)%32])
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	b.WriteString("-----BEGIN PGP PUBLIC KEY BLOCK-----\nVersion: GnuPG v2.0.15 (GNU/Linux)\n\n")
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc + "\n=Bo5t\n-----END PGP PUBLIC KEY BLOCK-----\n")
	return b.String()
}

// calicoManifest is the part of Calico's manifest the simulation reads:
// the objects `kubectl apply` reports and calico-node's image.
func calicoManifest(version string) string {
	return fmt.Sprintf(`---
# Source: calico/templates/calico-node.yaml (simulated excerpt of calico %[1]s)
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: calico-node
  namespace: kube-system
spec:
  template:
    spec:
      containers:
        - name: calico-node
          image: docker.io/calico/node:%[1]s
`, version)
}

// calicoObjects are what `kubectl apply` of Calico's manifest lists (an
// excerpt of the real list: its RBAC and CRDs are many more).
var calicoObjects = []string{
	"poddisruptionbudget.policy/calico-kube-controllers", "serviceaccount/calico-kube-controllers",
	"serviceaccount/calico-node", "serviceaccount/calico-cni-plugin", "configmap/calico-config",
	"customresourcedefinition.apiextensions.k8s.io/ippools.crd.projectcalico.org",
	"clusterrole.rbac.authorization.k8s.io/calico-node", "clusterrolebinding.rbac.authorization.k8s.io/calico-node",
	"daemonset.apps/calico-node", "deployment.apps/calico-kube-controllers",
}

// containerdProgram is `containerd config default|dump` and --version.
func containerdProgram(_ context.Context, c *host.Call) int {
	args := c.Args[1:]
	switch {
	case len(args) > 0 && (args[0] == "--version" || args[0] == "-v"):
		fmt.Fprintln(c.Stdout, "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1")
		return 0
	case len(args) > 1 && args[0] == "config" && args[1] == "default":
		fmt.Fprint(c.Stdout, containerdDefault)
		return 0
	case len(args) > 1 && args[0] == "config" && args[1] == "dump":
		b, err := os.ReadFile(c.Local("/etc/containerd/config.toml"))
		if err != nil {
			b = []byte(containerdDefault)
		}
		c.Stdout.Write(b)
		return 0
	}
	fmt.Fprintln(c.Stderr, "containerd: the simulated containerd runs as containerd.service (it answers --version, config default and config dump)")
	return 1
}

// kubeletProgram is `kubelet --version`.
func kubeletProgram(_ context.Context, c *host.Call) int {
	if len(c.Args) > 1 && c.Args[1] == "--version" {
		fmt.Fprintf(c.Stdout, "Kubernetes %s\n", kubeVersion(c.Host, "kubelet"))
		return 0
	}
	fmt.Fprintln(c.Stderr, "kubelet: the simulated kubelet runs as kubelet.service (it answers --version)")
	return 1
}

// crictlProgram is `crictl info` (and --version).
func crictlProgram(_ context.Context, c *host.Call) int {
	if len(c.Args) > 1 && c.Args[1] == "--version" {
		v, _ := installedVersion(c.Host, "cri-tools")
		v, _, _ = strings.Cut(v, "-")
		fmt.Fprintf(c.Stdout, "crictl version v%s\n", v)
		return 0
	}
	if !c.Host.Unit("containerd").Active {
		fmt.Fprintln(c.Stderr, `time="2024-12-01T10:00:00Z" level=fatal msg="validate service connection: validate CRI v1 runtime API for endpoint \"unix:///run/containerd/containerd.sock\": rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial unix /run/containerd/containerd.sock: connect: no such file or directory\""`)
		return 1
	}
	fmt.Fprintln(c.Stdout, "{\n  \"status\": {\n    \"conditions\": [\n      {\n        \"type\": \"RuntimeReady\",\n        \"status\": true\n      }\n    ]\n  }\n}")
	return 0
}
