package kube

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// releaseImages are the image tags a kubeadm release uses: its
// constants.PauseVersion and CoreDNSVersion, and the etcd tag
// SupportedEtcdVersion gives its own minor.
type releaseImages struct{ pause, coreDNS, etcd string }

// kubeadmImages are releaseImages by kubeadm's minor. 1.34 to 1.37 are
// cmd/kubeadm/app/constants/constants.go of v1.34.2, v1.35.4, v1.36.3 and
// v1.37.2; the older ones are their releases' constants as the
// simulator's author knew them (patch releases moved etcd's and CoreDNS's
// tags; not checked one by one).
var kubeadmImages = map[int]releaseImages{
	29: {"3.9", "v1.11.1", "3.5.16-0"},
	30: {"3.9", "v1.11.3", "3.5.15-0"},
	31: {"3.10", "v1.11.3", "3.5.15-0"},
	32: {"3.10", "v1.11.3", "3.5.16-0"},
	33: {"3.10", "v1.12.0", "3.5.21-0"},
	34: {"3.10.1", "v1.12.1", "3.6.5-0"},
	35: {"3.10.1", "v1.13.1", "3.6.6-0"},
	36: {"3.10.2", "v1.14.2", "3.6.8-0"},
	37: {"3.10.2", "v1.14.6", "3.7.0-0"},
}

// imagesOf are the tags kubeadm of version v ("v1.34.2") uses: the
// nearest release the table has for minors outside it.
func imagesOf(v string) releaseImages {
	m := minorOf(v)
	switch {
	case m < 29:
		m = 29
	case m > 37:
		m = 37
	}
	return kubeadmImages[m]
}

// defaultImageRepository is kubeadm's imageRepository default
// (kubeadmapiv1.DefaultImageRepository).
const defaultImageRepository = "registry.k8s.io"

// pauseImage is kubeadm's images.GetPauseImage: the pause image of the
// repository at kubeadm's own PauseVersion.
func pauseImage(repo, kubeadmVersion string) string {
	if repo == "" {
		repo = defaultImageRepository
	}
	return repo + "/pause:" + imagesOf(kubeadmVersion).pause
}

// controlPlaneImages is kubeadm's images.GetControlPlaneImages, in its
// order: the control-plane components and kube-proxy at the cluster's
// version, CoreDNS (under coredns/ in kubeadm's default repository
// only), pause, etcd (cmd/kubeadm/app/images/images.go).
func controlPlaneImages(repo, version, kubeadmVersion string) []string {
	if repo == "" {
		repo = defaultImageRepository
	}
	tags := imagesOf(kubeadmVersion)
	tag := strings.ReplaceAll(version, "+", "_")
	dns := repo
	if repo == defaultImageRepository {
		dns += "/coredns"
	}
	return []string{
		repo + "/kube-apiserver:" + tag, repo + "/kube-controller-manager:" + tag, repo + "/kube-scheduler:" + tag,
		repo + "/kube-proxy:" + tag, dns + "/coredns:" + tags.coreDNS, pauseImage(repo, kubeadmVersion),
		repo + "/etcd:" + tags.etcd,
	}
}

// Sandbox images of containerd's defaults: 1.6's sandbox_image (Debian
// 12's containerd 1.6.20, seen in the e2e lab) and 2.x's
// pinned_images.sandbox (from memory).
const (
	containerd1Sandbox = "registry.k8s.io/pause:3.6"
	containerd2Sandbox = "registry.k8s.io/pause:3.10"
)

// sandboxImage is the pod sandbox image containerd on h runs every pod
// with, as its CRI plugin reports it: /etc/containerd/config.toml's
// sandbox_image in [plugins."io.containerd.grpc.v1.cri"] (config version
// 2, containerd 1.x) or sandbox in
// [plugins."io.containerd.cri.v1.images".pinned_images] (version 3,
// containerd 2.x); containerd's default when the file or the setting is
// missing. The file is read as it is now, not as containerd loaded it at
// its last start.
func sandboxImage(h *host.Host) string {
	section, key, image := `plugins."io.containerd.grpc.v1.cri"`, "sandbox_image", containerd1Sandbox
	if v, _ := installedVersion(h, "containerd"); strings.HasPrefix(v, "2.") {
		section, key, image = `plugins."io.containerd.cri.v1.images".pinned_images`, "sandbox", containerd2Sandbox
	}
	b, err := os.ReadFile(filepath.Join(h.Root(), "/etc/containerd/config.toml"))
	if err != nil {
		return image
	}
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			in = strings.ReplaceAll(strings.Trim(l, "[]"), "'", `"`) == section
			continue
		}
		if k, v, ok := strings.Cut(l, "="); in && ok && strings.TrimSpace(k) == key {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return image
}

// imageRef is an image reference's parts: the registry host (docker.io
// for a reference without one), the repository path and the tag.
type imageRef struct{ domain, path, tag string }

func parseRef(ref string) imageRef {
	r := imageRef{domain: "docker.io", path: ref, tag: "latest"}
	if i := strings.Index(ref, "/"); i >= 0 && (strings.ContainsAny(ref[:i], ".:") || ref[:i] == "localhost") {
		r.domain, r.path = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(r.path, ":"); i >= 0 && !strings.Contains(r.path[i:], "/") {
		r.path, r.tag = r.path[:i], r.path[i+1:]
	}
	if r.domain == "docker.io" && !strings.Contains(r.path, "/") {
		r.path = "library/" + r.path
	}
	return r
}

// registryHost is the host containerd asks for a domain's images
// (docker.io's is registry-1.docker.io, containerd's
// remotes/docker/config default).
func (r imageRef) registryHost() string {
	if r.domain == "docker.io" {
		return "registry-1.docker.io"
	}
	return r.domain
}

func (r imageRef) manifestURL() string {
	return "https://" + r.registryHost() + "/v2/" + r.path + "/manifests/" + r.tag
}

// imported reports whether containerd on h lists ref in its k8s.io
// namespace (what `ctr -n k8s.io images import` and pulls put there).
func (s *Sim) imported(h *host.Host, ref string) bool {
	s.ctrMu.Lock()
	defer s.ctrMu.Unlock()
	b, _ := os.ReadFile(filepath.Join(h.Root(), imagesFile))
	return slices.Contains(strings.Split(string(b), "\n"), "k8s.io "+ref)
}

// fetchManifest asks ref's registry for its manifest through the lab's
// Internet, as containerd resolves a reference; it returns containerd's
// error words ("" when the registry has it).
func fetchManifest(ctx context.Context, h *host.Host, ref string) string {
	r := parseRef(ref)
	status, _, reachable := h.Fetch(ctx, r.manifestURL())
	switch {
	case !reachable:
		// containerd 1.6's pkg/cri/server/image_pull.go and
		// remotes/docker/resolver.go around Go's net/http error (from
		// memory; the resolver's address as the simulator gives it
		// elsewhere).
		return fmt.Sprintf("rpc error: code = Unknown desc = failed to pull and unpack image %q: failed to resolve reference %q: failed to do request: Head %q: dial tcp: lookup %s on 127.0.0.53:53: no such host",
			ref, ref, r.manifestURL(), r.registryHost())
	case status == http.StatusNotFound:
		return fmt.Sprintf("rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", ref, ref, ref)
	case status != http.StatusOK:
		return fmt.Sprintf("rpc error: code = Unknown desc = failed to pull and unpack image %q: failed to resolve reference %q: unexpected status from HEAD request to %s: %d %s",
			ref, ref, r.manifestURL(), status, http.StatusText(status))
	}
	return ""
}

// available reports whether containerd on h can run ref: imported, or
// pullable from its registry.
func (s *Sim) available(ctx context.Context, h *host.Host, ref string) bool {
	return s.imported(h, ref) || fetchManifest(ctx, h, ref) == ""
}

// pull is the CRI's PullImage of ref on h: nothing to do when containerd
// has it, else its registry is asked and the pulled image listed in the
// k8s.io namespace. It returns containerd's error words, "" on success.
func (s *Sim) pull(ctx context.Context, h *host.Host, ref string) string {
	if s.imported(h, ref) {
		return ""
	}
	if why := fetchManifest(ctx, h, ref); why != "" {
		return why
	}
	s.ctrMu.Lock()
	defer s.ctrMu.Unlock()
	store := filepath.Join(h.Root(), imagesFile)
	b, _ := os.ReadFile(store)
	if !slices.Contains(strings.Split(string(b), "\n"), "k8s.io "+ref) {
		os.MkdirAll(filepath.Dir(store), 0o700)
		os.WriteFile(store, append(b, "k8s.io "+ref+"\n"...), 0o600)
	}
	return ""
}

// podsRun reports whether the kubelet on h can start pods at all:
// containerd needs its sandbox image for every pod (with containerd the
// kubelet's --pod-infra-container-image does not change it), and without
// it every RunPodSandbox fails and no pod, static or not, runs.
func (s *Sim) podsRun(ctx context.Context, h *host.Host) bool {
	return s.available(ctx, h, sandboxImage(h))
}

// kubeadmPreflightImages is kubeadm's ImagePullCheck with its defaults
// (pull policy IfNotPresent, serial pulls): the klog warning when
// containerd's sandbox image is not kubeadm's pause image, then each
// control-plane image pulled unless containerd has it; a failure is
// wrapped twice, by CRIRuntime.PullImage and by the check
// (cmd/kubeadm/app/preflight/checks.go, util/runtime/runtime.go).
func (s *Sim) kubeadmPreflightImages(ctx context.Context, c *host.Call, repo, version string) []problem {
	have := kubeVersion(c.Host, "kubeadm")
	if sb, want := sandboxImage(c.Host), pauseImage(repo, have); sb != want {
		// klog's header: severity, date, time, process id, file:line of
		// the call in v1.34.2's checks.go.
		now := s.now()
		fmt.Fprintf(c.Stderr, "W%s %7d checks.go:827] detected that the sandbox image %q of the container runtime is inconsistent with that used by kubeadm. It is recommended to use %q as the CRI sandbox image.\n",
			now.UTC().Format("0102 15:04:05.000000"), kubeadmPID, sb, want)
	}
	var errs []problem
	for _, ref := range controlPlaneImages(repo, version, have) {
		if why := s.pull(ctx, c.Host, ref); why != "" {
			errs = append(errs, problem{"ImagePull", fmt.Sprintf("failed to pull image %s: failed to pull image %s: %s", ref, ref, why)})
		}
	}
	return errs
}

// kubeadmPID stands for the process id klog's header carries.
const kubeadmPID = 4123

// registryPath is a registry API manifest request: /v2/<name>/manifests/<tag>.
var registryPath = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)

// registry is an image registry's API (the manifest requests containerd
// resolves a reference with) holding every tag of the repositories
// known: /v2/ answers 200, a manifest of a known repository 200, anything
// else 404 with the distribution spec's MANIFEST_UNKNOWN.
func registry(known ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{}")
			return
		}
		if m := registryPath.FindStringSubmatch(r.URL.Path); m != nil && slices.Contains(known, m[1]) {
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			fmt.Fprintf(w, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"Failed to fetch \"`+r.URL.Path+`\""}]}`+"\n")
	})
}

// k8sRepositories are the repositories of registry.k8s.io the simulated
// kubeadm asks for.
var k8sRepositories = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
	"coredns/coredns", "pause", "etcd"}

// calicoRepositories are the repositories of docker.io Calico's manifest
// names.
var calicoRepositories = []string{"calico/node", "calico/cni", "calico/kube-controllers"}

// podRuns reports whether a pod of image starts on h (a node's host, nil
// when not known after a Load: then it is taken to run): containerd has
// or can pull both its sandbox image and image.
func (s *Sim) podRuns(h *host.Host, image string) bool {
	if h == nil {
		return true
	}
	ctx := context.Background()
	return s.available(ctx, h, sandboxImage(h)) && s.available(ctx, h, image)
}

// daemonSetPods are a DaemonSet's desired and available pods (s.mu
// held): one per node that is not Lost, available where it runs.
func (s *Sim) daemonSetPods(cl *Cluster, ds *DaemonSet) (desired, available int) {
	for _, n := range cl.Nodes {
		if n.Lost {
			continue
		}
		desired++
		if s.podRuns(s.hosts[n.Host], ds.Image) {
			available++
		}
	}
	return desired, available
}
