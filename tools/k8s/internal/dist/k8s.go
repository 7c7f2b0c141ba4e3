package dist

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Set is what build.sh built for one Kubernetes release: bin/ holds
// kubeadm, kubelet, kubectl, kube-apiserver, kube-controller-manager,
// kube-scheduler, kube-proxy, etcd, etcdctl, etcdutl, coredns, pause and cni/ (the CNI
// plugins); the versions are those of the modules they were built from.
type Set struct {
	Bin        string
	Kubernetes string // "v1.34.2"
	Etcd       string // "v3.6.5"
	CoreDNS    string // "v1.12.1"
	CNI        string // "v1.7.1"
	// Bases are extra root file trees by image name: kube-proxy's holds
	// iptables and its libraries (upstream bases the image on
	// distroless-iptables), unpacked by build.sh from Debian's packages.
	Bases map[string]string
}

// packageVersion is the Debian version pkgs.k8s.io gives a release
// ("1.34.2-1.1"); homelab's node preparation pins it.
func packageVersion(v string) string { return strings.TrimPrefix(v, "v") + "-1.1" }

// Images returns one image per reference `kubeadm config images list`
// printed (refs), checking that each names the version that was built.
func (s Set) Images(refs []string) ([]Image, error) {
	var out []Image
	for _, ref := range refs {
		slash := strings.LastIndex(ref, "/")
		name, tag, ok := strings.Cut(ref[slash+1:], ":")
		if !ok {
			return nil, fmt.Errorf("image %q has no tag", ref)
		}
		bin := func(n string) string { return filepath.Join(s.Bin, n) }
		img := Image{Ref: ref}
		var want string
		switch name {
		case "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy":
			// The static pod manifests run them by name (kube-proxy's
			// DaemonSet by /usr/local/bin/kube-proxy), as the upstream
			// images hold them.
			want = s.Kubernetes
			img.Files = []File{{Path: "usr/local/bin/" + name, Mode: 0o755, Source: bin(name)}}
			img.Entrypoint = []string{"/usr/local/bin/" + name}
		case "etcd":
			// The tag is etcd's version without the v and an image
			// revision ("3.6.5-0"); the manifest runs "etcd".
			want = strings.TrimPrefix(s.Etcd, "v")
			tag, _, _ = strings.Cut(tag, "-")
			// etcdctl and etcdutl beside it, as in the upstream image:
			// homelab lists the members and saves snapshots with
			// kubectl exec ... etcdctl, and restores one with etcdutl.
			img.Files = []File{{Path: "usr/local/bin/etcd", Mode: 0o755, Source: bin("etcd")},
				{Path: "usr/local/bin/etcdctl", Mode: 0o755, Source: bin("etcdctl")},
				{Path: "usr/local/bin/etcdutl", Mode: 0o755, Source: bin("etcdutl")}}
			img.Cmd = []string{"/usr/local/bin/etcd"}
		case "coredns":
			// The Deployment passes only args (-conf ...): the entrypoint
			// is /coredns, as in the upstream image.
			want = s.CoreDNS
			img.Files = []File{{Path: "coredns", Mode: 0o755, Source: bin("coredns")}}
			img.Entrypoint = []string{"/coredns"}
		case "pause":
			// Any version: the program only waits and reaps.
			want = tag
			img.Files = []File{{Path: "pause", Mode: 0o755, Source: bin("pause")}}
			img.Entrypoint = []string{"/pause"}
		default:
			return nil, fmt.Errorf("image %q: no binary for %s", ref, name)
		}
		if base := s.Bases[name]; base != "" {
			files, err := TreeFiles(base)
			if err != nil {
				return nil, fmt.Errorf("image %q: base %s: %w", ref, base, err)
			}
			img.Files = append(files, img.Files...)
		}
		if tag != want {
			return nil, fmt.Errorf("image %q: kubeadm wants %s %s, the build has %s (pin tools/k8s/%s/go.mod to it)", ref, name, tag, want, name)
		}
		out = append(out, img)
	}
	return out, nil
}

// kubeletService is the unit pkgs.k8s.io's kubelet package installs.
const kubeletService = `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`

// kubeadmDropIn is the drop-in pkgs.k8s.io's kubeadm package installs: the
// kubelet reads what kubeadm init/join write.
const kubeadmDropIn = `# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. Preferably, the user should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`

// daemonReload is the maintainer script of the packages that ship units:
// systemd rereads them. Enabling and starting the kubelet is left to the
// admin (`systemctl enable --now kubelet`, as Kubernetes' install guide
// says and homelab's node preparation does).
const daemonReload = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
`

// Debs returns the kubelet, kubeadm, kubectl and kubernetes-cni packages
// with the files, dependencies and versions pkgs.k8s.io's packages of the
// release declare (kubernetes/release cmd/krel/templates/latest: since
// 1.32 kubeadm depends on nothing; kubelet on kubernetes-cni >= 1.2.0,
// mount and util-linux, recommending iptables >= 1.8.4).
func (s Set) Debs() ([]Deb, error) {
	version := packageVersion(s.Kubernetes)
	cniBins, err := os.ReadDir(filepath.Join(s.Bin, "cni"))
	if err != nil {
		return nil, fmt.Errorf("CNI plugins: %w", err)
	}
	var cniFiles []File
	for _, e := range cniBins {
		cniFiles = append(cniFiles, File{Path: "opt/cni/bin/" + e.Name(), Mode: 0o755, Source: filepath.Join(s.Bin, "cni", e.Name())})
	}
	sort.Slice(cniFiles, func(i, j int) bool { return cniFiles[i].Path < cniFiles[j].Path })
	bin := func(n string) File { return File{Path: "usr/bin/" + n, Mode: 0o755, Source: filepath.Join(s.Bin, n)} }
	const home = "https://kubernetes.io"
	debs := []Deb{
		{
			Package: "kubeadm", Version: version, Architecture: "amd64", Section: "admin", Homepage: home,
			Description: "Command-line utility for administering a Kubernetes cluster",
			Files:       []File{bin("kubeadm"), {Path: "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", Mode: 0o644, Data: []byte(kubeadmDropIn)}},
			Scripts:     map[string]string{"postinst": daemonReload, "postrm": daemonReload},
		},
		{
			Package: "kubectl", Version: version, Architecture: "amd64", Section: "admin", Homepage: home,
			Description: "Command-line utility for interacting with a Kubernetes cluster",
			Files:       []File{bin("kubectl")},
		},
		{
			Package: "kubelet", Version: version, Architecture: "amd64", Section: "net", Homepage: home,
			Description: "Node agent for Kubernetes clusters",
			Depends:     []string{"kubernetes-cni (>= 1.2.0)", "mount", "util-linux"},
			Recommends:  []string{"iptables (>= 1.8.4)"},
			Files: []File{
				{Path: "etc/default/kubelet", Mode: 0o644, Data: []byte("KUBELET_EXTRA_ARGS=\n")},
				{Path: "etc/kubernetes/manifests/.kubelet-keep", Mode: 0o644},
				bin("kubelet"),
				{Path: "usr/lib/systemd/system/kubelet.service", Mode: 0o644, Data: []byte(kubeletService)},
				{Path: "var/lib/kubelet/.kubelet-keep", Mode: 0o644},
			},
			Conffiles: []string{"/etc/default/kubelet"},
			Scripts:   map[string]string{"postinst": daemonReload, "postrm": daemonReload},
		},
		{
			Package: "kubernetes-cni", Version: packageVersion(s.CNI), Architecture: "amd64", Section: "net", Homepage: "https://github.com/containernetworking/plugins",
			Description: "Binaries required to provision kubernetes container networking",
			Files:       cniFiles,
		},
	}
	for _, d := range debs {
		for _, f := range d.Files {
			if !cleanPath(f.Path) {
				return nil, fmt.Errorf("package %s: bad path %q", d.Package, f.Path)
			}
		}
	}
	return debs, nil
}
