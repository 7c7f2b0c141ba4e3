package kube_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/kube"
)

// The images kubeadm 1.31.4 pulls for a control plane of v1.31.4
// (`kubeadm config images list`), the pause image it uses and Debian 12's
// containerd's sandbox image.
var (
	apiserverImage = "registry.k8s.io/kube-apiserver:v1.31.4"
	proxyImage     = "registry.k8s.io/kube-proxy:v1.31.4"
	etcdImage      = "registry.k8s.io/etcd:3.5.15-0"
	kubeadmPause   = "registry.k8s.io/pause:3.10"
	debianPause    = "registry.k8s.io/pause:3.6"
	cpImages       = []string{apiserverImage, "registry.k8s.io/kube-controller-manager:v1.31.4", "registry.k8s.io/kube-scheduler:v1.31.4",
		proxyImage, "registry.k8s.io/coredns/coredns:v1.11.3", kubeadmPause, etcdImage}
)

const (
	mirrorHost   = "mirror.lab.example"
	sandboxWarn  = `checks.go:827] detected that the sandbox image "registry.k8s.io/pause:3.6" of the container runtime is inconsistent with that used by kubeadm. It is recommended to use "registry.k8s.io/pause:3.10" as the CRI sandbox image.`
	initSuccess  = "Your Kubernetes control-plane has initialized successfully!"
	pullFailure  = "[ERROR ImagePull]: failed to pull image %[1]s: failed to pull image %[1]s: rpc error: code = Unknown desc = failed to pull and unpack image \"%[1]s\""
	bridgeConf   = `{"cniVersion":"1.0.0","name":"lab","plugins":[{"type":"bridge"},{"type":"portmap"}]}`
	preflightErr = "error execution phase preflight: preflight checks failed"
)

func pullFails(ref string) string { return strings.ReplaceAll(pullFailure, "%[1]s", ref) }

// imageLab is master-1, master-2 and worker-1 prepared (Debian's
// containerd defaults, kubeadm 1.31.4) in a lab with a mirror of every
// image cpImages names and, unless airGapped, registry.k8s.io on its
// Internet.
func imageLab(t *testing.T, airGapped bool) *kubeLab {
	t.Helper()
	now := time.Now()
	o := kube.Options{Now: func() time.Time { return now }, Mirror: &kube.Mirror{Host: mirrorHost, Images: append(slices.Clone(cpImages), debianPause)}}
	l := newKubeLabWith(t, o, func(internet map[string]http.Handler) {
		if _, ok := internet["registry.k8s.io"]; !ok {
			t.Error("the simulator's Internet has no registry.k8s.io")
		}
		if airGapped {
			delete(internet, "registry.k8s.io")
		}
	}, nil, "master-1", "master-2", "worker-1")
	for _, n := range []string{"master-1", "master-2", "worker-1"} {
		l.prepare(n)
		l.pin(n, addrs["master-1"])
	}
	return l
}

// sandbox sets containerd's sandbox image on a node and restarts it, as
// homelab's node preparation does.
func (l *kubeLab) sandbox(name, image string) {
	l.t.Helper()
	l.must(name, `sed -i 's#sandbox_image = .*#sandbox_image = "`+image+`"#' /etc/containerd/config.toml && systemctl restart containerd`)
}

// importImages downloads the mirror's archives of refs and imports them
// into containerd's k8s.io namespace.
func (l *kubeLab) importImages(name string, refs ...string) {
	l.t.Helper()
	for _, r := range refs {
		l.must(name, "curl -fsSL -o /tmp/image.tar http://"+mirrorHost+"/images/"+kube.ArchiveFile(r)+" && ctr -n k8s.io images import /tmp/image.tar && rm /tmp/image.tar")
	}
}

func without(refs []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(refs), func(r string) bool { return r == drop })
}

// kubeadm init needs its control-plane images (pulled in preflight unless
// containerd has them) and containerd's sandbox image (every static pod's
// sandbox): air-gapped without the images preflight fails with
// ImagePull; with them but with Debian's sandbox image pause:3.6 nothing
// starts and wait-control-plane fails after 4m0s, as the e2e lab showed.
// A sandbox image other than kubeadm's own pause is kubeadm's klog
// warning either way.
func TestInitImages(t *testing.T) {
	for _, tc := range []struct {
		name      string
		airGapped bool
		sandbox   string   // "" is Debian's default (pause:3.6)
		imports   []string // into containerd's k8s.io namespace
		status    int
		want, not []string
	}{
		{name: "connected, Debian's sandbox image", want: []string{sandboxWarn, initSuccess}},
		{name: "connected, kubeadm's pause", sandbox: kubeadmPause, want: []string{initSuccess}, not: []string{"sandbox image"}},
		{name: "air-gapped, nothing imported", airGapped: true, sandbox: kubeadmPause, status: 1,
			want: []string{pullFails(apiserverImage), pullFails(etcdImage), pullFails(kubeadmPause),
				`failed to resolve reference "` + apiserverImage + `": failed to do request: Head "https://registry.k8s.io/v2/kube-apiserver/manifests/v1.31.4": dial tcp: lookup registry.k8s.io on 127.0.0.53:53: no such host`,
				"[preflight] Some fatal errors occurred:", preflightErr},
			not: []string{"sandbox image", initSuccess, "[certs]"}},
		{name: "air-gapped, all but etcd imported", airGapped: true, sandbox: kubeadmPause, imports: without(cpImages, etcdImage), status: 1,
			want: []string{pullFails(etcdImage), preflightErr}, not: []string{pullFails(apiserverImage), pullFails(kubeadmPause)}},
		{name: "air-gapped, all imported, kubeadm's pause", airGapped: true, sandbox: kubeadmPause, imports: cpImages, want: []string{initSuccess}},
		{name: "air-gapped, all imported, Debian's sandbox image", airGapped: true, imports: cpImages, status: 1,
			want: []string{sandboxWarn, "[kubelet-check] The kubelet is healthy after",
				"[control-plane-check] kube-apiserver is not healthy after 4m0",
				"A control plane component may have crashed or exited when started by the container runtime.",
				"'crictl --runtime-endpoint unix:///var/run/containerd/containerd.sock ps -a | grep kube | grep -v pause'",
				`error execution phase wait-control-plane: failed while waiting for the control plane to start: [kube-apiserver check failed at https://10.0.0.21:6443/livez: client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline, kube-controller-manager check failed at https://127.0.0.1:10257/healthz: Get "https://127.0.0.1:10257/healthz": dial tcp 127.0.0.1:10257: connect: connection refused, kube-scheduler check failed at https://127.0.0.1:10259/livez: Get "https://127.0.0.1:10259/livez": dial tcp 127.0.0.1:10259: connect: connection refused]`},
			not: []string{"ImagePull", initSuccess}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := imageLab(t, tc.airGapped)
			if tc.sandbox != "" {
				l.sandbox("master-1", tc.sandbox)
			}
			l.importImages("master-1", tc.imports...)
			l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfig("master-1"))
			st, out, errs := l.ssh("master-1", initCmd)
			all := out + errs
			bad := st != tc.status
			for _, w := range tc.want {
				bad = bad || !strings.Contains(all, w)
			}
			for _, n := range tc.not {
				bad = bad || strings.Contains(all, n)
			}
			if bad {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q\nnot %q", st, tc.status, out, errs, tc.want, tc.not)
			}
			if _, ok := l.sim.Cluster(); ok != (tc.status == 0) {
				t.Errorf("a cluster exists: %t, want %t", ok, tc.status == 0)
			}
			if tc.status != 0 {
				return
			}
			// What preflight pulled, containerd lists.
			listed := l.must("master-1", "ctr -n k8s.io images ls -q")
			for _, r := range cpImages {
				if !strings.Contains(listed, r+"\n") {
					t.Errorf("containerd does not list %s after init:\n%s", r, listed)
				}
			}
		})
	}
}

// On an air-gapped lab whose first control plane has its images: a
// worker pulls no control-plane image (only its kubelet's sandbox and
// kube-proxy); a worker without the sandbox image joins (its kubelet
// registers the Node) but runs no pod, so kube-proxy's rollout never
// completes; a control plane's join pulls the control-plane images after
// discovery, and without its sandbox image its etcd never starts: the
// learner is never promoted.
func TestJoinImages(t *testing.T) {
	for _, tc := range []struct {
		name    string
		node    string
		sandbox string
		imports []string
		status  int
		want    []string
		// rolledOut: kube-proxy's rollout completes after the join.
		rolledOut bool
	}{
		{name: "worker with kube-proxy and pause", node: "worker-1", sandbox: kubeadmPause, imports: []string{proxyImage, kubeadmPause},
			want: []string{"This node has joined the cluster:"}, rolledOut: true},
		{name: "worker without its sandbox image", node: "worker-1", imports: []string{proxyImage, kubeadmPause},
			want: []string{"This node has joined the cluster:"}},
		{name: "worker without kube-proxy", node: "worker-1", sandbox: kubeadmPause, imports: []string{kubeadmPause},
			want: []string{"This node has joined the cluster:"}},
		{name: "control plane, nothing imported", node: "master-2", sandbox: kubeadmPause, status: 1,
			want: []string{"[preflight] Running pre-flight checks before initializing the new control plane instance",
				"[preflight] Pulling images required for setting up a Kubernetes cluster", pullFails(apiserverImage), pullFails(etcdImage), preflightErr}},
		{name: "control plane without its sandbox image", node: "master-2", imports: cpImages, status: 1,
			want: []string{sandboxWarn, "error execution phase etcd-join: error creating local etcd static pod manifest file: etcdserver: can only promote a learner member which is in sync with leader"}},
		{name: "control plane with its images", node: "master-2", sandbox: kubeadmPause, imports: cpImages,
			want: []string{"This node has joined the cluster and a new control plane instance was created:"}, rolledOut: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := imageLab(t, true)
			l.sandbox("master-1", kubeadmPause)
			l.importImages("master-1", cpImages...)
			l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfig("master-1"))
			l.must("master-1", initCmd)
			l.put("master-1", "/etc/cni/net.d/10-lab.conflist", bridgeConf)
			l.put(tc.node, "/etc/cni/net.d/10-lab.conflist", bridgeConf)
			if tc.sandbox != "" {
				l.sandbox(tc.node, tc.sandbox)
			}
			l.importImages(tc.node, tc.imports...)
			l.put(tc.node, "/etc/kubernetes/homelab/join.yaml", joinConfig(tc.node, token, l.caPin(), certKey, tc.node == "master-2"))
			st, out, errs := l.ssh(tc.node, joinCmd)
			bad := st != tc.status
			for _, w := range tc.want {
				bad = bad || !strings.Contains(out+errs, w)
			}
			if tc.node == "worker-1" {
				bad = bad || strings.Contains(out+errs, "Pulling images") || strings.Contains(out+errs, "sandbox image")
			}
			if bad {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q", st, tc.status, out, errs, tc.want)
			}
			st, out, errs = l.ssh("master-1", kubectl+"-n kube-system rollout status daemonset kube-proxy --timeout=5s")
			switch {
			case tc.rolledOut && (st != 0 || !strings.Contains(out, `daemon set "kube-proxy" successfully rolled out`)):
				t.Errorf("rollout status: exit %d\nstdout: %s\nstderr: %s", st, out, errs)
			case !tc.rolledOut && tc.status == 0 && (st != 1 || !strings.Contains(out, `Waiting for daemon set "kube-proxy" rollout to finish: 1 of 2 updated pods are available...`) || errs != "error: timed out waiting for the condition\n"):
				t.Errorf("rollout status with a node that runs no kube-proxy: exit %d\nstdout: %s\nstderr: %s", st, out, errs)
			}
		})
	}
}

// With Calico, a node whose containerd cannot get its sandbox image never
// runs calico-node, whose install-cni writes the node's CNI
// configuration: it stays NotReady. Its neighbours are Ready.
func TestCalicoNeedsTheSandboxImage(t *testing.T) {
	now := time.Now()
	l := newKubeLabWith(t, kube.Options{Now: func() time.Time { return now }}, func(internet map[string]http.Handler) {
		if _, ok := internet["registry-1.docker.io"]; !ok {
			t.Error("the simulator's Internet has no registry-1.docker.io (Calico's images)")
		}
	}, nil, "master-1", "worker-1")
	for _, n := range []string{"master-1", "worker-1"} {
		l.prepare(n)
		l.pin(n, addrs["master-1"])
	}
	// worker-1's containerd names a sandbox image of a registry the lab
	// cannot reach.
	l.sandbox("worker-1", "registry.internal.example/pause:3.10")
	l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfig("master-1"))
	l.must("master-1", initCmd)
	l.put("worker-1", "/etc/kubernetes/homelab/join.yaml", joinConfig("worker-1", token, l.caPin(), "", false))
	l.must("worker-1", joinCmd)
	l.must("master-1", kubectl+"apply -f https://raw.githubusercontent.com/projectcalico/calico/v3.29.1/manifests/calico.yaml")
	out := l.must("master-1", kubectl+"get nodes --no-headers")
	if !strings.Contains(out, "master-1   Ready") || !strings.Contains(out, "worker-1   NotReady") {
		t.Errorf("master-1 must be Ready and worker-1 NotReady:\n%s", out)
	}
}
