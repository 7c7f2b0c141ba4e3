package kube_test

import (
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/sim/kube"
)

// kubeadm 1.35 and later warn at preflight that Debian's containerd 1.x
// lacks the CRI RuntimeConfig call, naming the minor that will stop
// falling back to the kubelet's cgroupDriver; the init goes on.
func TestContainerRuntimeVersionWarning(t *testing.T) {
	for _, tc := range []struct{ version, want string }{
		{"1.34.2", ""},
		{"1.35.4", "will be removed in 1.36."},
		{"1.36.3", "will be removed in 1.37."},
		{"1.37.2", "will be removed in 1.38."},
	} {
		t.Run(tc.version, func(t *testing.T) {
			l := newKubeLab(t, kube.Options{}, "master-1")
			l.prepareAt("master-1", tc.version)
			l.pin("master-1", addrs["master-1"])
			l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfigAt("master-1", tc.version, ""))
			code, _, stderr := l.ssh("master-1", initCmd)
			if code != 0 {
				t.Fatalf("init: exit %d\n%s", code, stderr)
			}
			const warning = "\t[WARNING ContainerRuntimeVersion]: You must update your container runtime to a version that supports the CRI method RuntimeConfig. Falling back to using cgroupDriver from kubelet config "
			switch {
			case tc.want == "" && strings.Contains(stderr, "ContainerRuntimeVersion"):
				t.Errorf("kubeadm %s warns:\n%s", tc.version, stderr)
			case tc.want != "" && !strings.Contains(stderr, warning+tc.want):
				t.Errorf("kubeadm %s: no %q in\n%s", tc.version, warning+tc.want, stderr)
			}
		})
	}
}

// kubeadm 1.37 reads kubeadm.k8s.io/v1beta4 only; 1.36 still reads
// v1beta3 (cmd/kubeadm/app/util/config/common.go).
func TestKubeadmV1beta3(t *testing.T) {
	for _, tc := range []struct{ version, want string }{
		{"1.36.3", ""},
		{"1.37.2", `your configuration file uses an old API spec: "kubeadm.k8s.io/v1beta3" (kind: "InitConfiguration"). Please use kubeadm v1.36 instead and run 'kubeadm config migrate --old-config old-config-file --new-config new-config-file'`},
	} {
		t.Run(tc.version, func(t *testing.T) {
			l := newKubeLab(t, kube.Options{}, "master-1")
			l.prepareAt("master-1", tc.version)
			l.pin("master-1", addrs["master-1"])
			l.put("master-1", "/etc/kubernetes/homelab/init.yaml", strings.ReplaceAll(initConfigAt("master-1", tc.version, ""), "kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta3"))
			if tc.want == "" {
				l.must("master-1", initCmd)
				return
			}
			l.fails("master-1", initCmd, 1, tc.want)
		})
	}
}
