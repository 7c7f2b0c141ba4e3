package kube_test

import (
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/sim/kube"
)

// Init and join fail with kubeadm's words: preflight, swap, discovery.
func TestFailures(t *testing.T) {
	l := newKubeLab(t, kube.Options{}, "master-1", "master-2")
	l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfig("master-1"))
	l.must("master-1", "DEBIAN_FRONTEND=noninteractive apt-get install -y curl gnupg && install -d -m 0755 /etc/apt/keyrings")
	l.fails("master-1", "apt-get update -q && echo 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.31/deb/ /' > /etc/apt/sources.list.d/kubernetes.list && apt-get update -q",
		100, "E: The repository 'https://pkgs.k8s.io/core:/stable:/v1.31/deb / InRelease' is not signed.")
	l.must("master-1", "curl -fsSL https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key | gpg --dearmor --batch --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg && apt-get update -q")
	l.fails("master-1", "DEBIAN_FRONTEND=noninteractive apt-get install -y kubelet=1.30.4-1.1", 100, "E: Version '1.30.4-1.1' for 'kubelet' was not found")
	l.must("master-1", "DEBIAN_FRONTEND=noninteractive apt-get install -y kubelet=1.31.4-1.1 kubeadm=1.31.4-1.1 kubectl=1.31.4-1.1")
	for _, c := range []struct{ name, cmd, want string }{
		{"ip_forward", initCmd, "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents are not set to 1"},
		{"no runtime", initCmd, "[ERROR CRI]: container runtime is not running"},
		{"fatal header", initCmd, "[preflight] Some fatal errors occurred:"},
		{"fatal error", initCmd, "error: error execution phase preflight: preflight checks failed\nTo see the stack trace of this error execute with --v=5 or higher"},
		{"swap warning", "sysctl -w net.ipv4.ip_forward=1 >/dev/null && " + initCmd, "[WARNING Swap]"},
	} {
		t.Run(c.name, func(t *testing.T) { l.t = t; l.fails("master-1", c.cmd, 1, c.want) })
	}
	l.t = t
	// Swap still on: init writes the control plane and dies waiting for
	// the kubelet; a second init trips on the leftovers.
	l.must("master-1", "DEBIAN_FRONTEND=noninteractive apt-get install -y containerd")
	l.fails("master-1", initCmd, 1, "error execution phase wait-control-plane: failed while waiting for the kubelet to start: The HTTP call equal to 'curl -sSL http://127.0.0.1:10248/healthz' returned error")
	if !strings.Contains(l.must("master-1", "ls /etc/kubernetes/manifests"), "kube-apiserver.yaml") {
		t.Error("no manifests left by the failed init")
	}
	l.fails("master-1", "systemctl is-active kubelet", 3, "activating")
	l.fails("master-1", "curl -sS --max-time 5 -k https://10.0.0.21:6443/readyz", 7, "curl: (7) Failed to connect to 10.0.0.21 port 6443")
	l.fails("master-1", "swapoff -a && "+initCmd, 1, "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: /etc/kubernetes/manifests/kube-apiserver.yaml already exists")
	l.must("master-1", "kubeadm reset -f && "+initCmd)
	l.fails("master-1", kubectl+"get nodes", 1, "Unable to connect to the server: dial tcp: lookup "+endpoint+" on 127.0.0.53:53: no such host")
	l.pin("master-1", "10.0.0.21")
	l.must("master-1", kubectl+"get nodes")

	// master-2 joins: the name unknown, then a wrong pin, a wrong token.
	l.must("master-2", "sysctl -w net.ipv4.ip_forward=1 && swapoff -a && DEBIAN_FRONTEND=noninteractive apt-get install -y containerd")
	l.put("master-2", "/etc/kubernetes/homelab/join.yaml", joinConfig("master-2", token, l.caPin(), certKey, true))
	l.fails("master-2", joinCmd, 127, "sh: 1: kubeadm: not found")
	l.prepare("master-2")
	for _, c := range []struct{ name, setup, config, want string }{
		{"unknown name", "true", joinConfig("master-2", token, l.caPin(), certKey, true),
			"couldn't validate the identity of the API Server: failed to request the cluster-info ConfigMap: Get \"https://" + endpoint + ":6443/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s\": dial tcp: lookup " + endpoint + " on 127.0.0.53:53: no such host"},
		{"nothing serves", "echo '10.0.0.22 " + endpoint + "' >> /etc/hosts", joinConfig("master-2", token, l.caPin(), certKey, true),
			"dial tcp 10.0.0.22:6443: connect: connection refused"},
		{"unknown token", "sed -i '/" + endpoint + "/d' /etc/hosts && echo '10.0.0.21 " + endpoint + "' >> /etc/hosts", joinConfig("master-2", "zzzzzz.0123456789abcdef", l.caPin(), certKey, true),
			`could not find a JWS signature in the cluster-info ConfigMap for token ID "zzzzzz"`},
		{"wrong pin", "true", joinConfig("master-2", token, "sha256:"+strings.Repeat("0", 64), certKey, true),
			"cluster CA found in cluster-info ConfigMap is invalid: none of the public keys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l.t = t
			l.must("master-2", c.setup)
			l.put("master-2", "/etc/kubernetes/homelab/join.yaml", c.config)
			l.fails("master-2", joinCmd, 1, c.want)
		})
	}
	l.t = t
	l.put("master-2", "/etc/kubernetes/homelab/join.yaml", joinConfig("master-2", token, l.caPin(), certKey, true))
	l.must("master-2", joinCmd)
	l.must("master-1", "kubeadm token delete abcdef")
	l.fails("master-1", "kubeadm token delete abcdef", 1, `failed to delete bootstrap token "abcdef"`)
}
