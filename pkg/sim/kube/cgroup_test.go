package kube_test

import (
	"testing"

	"github.com/homelabctl/homelab/pkg/sim/host"
	"github.com/homelabctl/homelab/pkg/sim/kube"
)

// The kubelet refuses a cgroup v1 host when its failCgroupV1 is true, the
// default from 1.35 (pkg/kubelet/apis/config/v1beta1/defaults.go,
// validation_linux.go): kubeadm init then dies waiting for it. false, an
// older kubelet or a cgroup v2 host run. Joining nodes get the init
// configuration's KubeletConfiguration (the kubelet-config ConfigMap).
func TestKubeletCgroupV1(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v1      bool
		version string
		kubelet string
		runs    bool
	}{
		{"1.35 on cgroup v1 refuses by default", true, "1.35.4", "", false},
		{"1.37 on cgroup v1 refuses with failCgroupV1 true", true, "1.37.2", "failCgroupV1: true\n", false},
		{"1.35 on cgroup v1 runs with failCgroupV1 false", true, "1.35.4", "failCgroupV1: false\n", true},
		{"1.34 on cgroup v1 runs by default", true, "1.34.2", "", true},
		{"1.34 on cgroup v1 refuses with failCgroupV1 true", true, "1.34.2", "failCgroupV1: true\n", false},
		{"1.37 on cgroup v2 runs by default", false, "1.37.2", "", true},
		{"1.37 on cgroup v2 runs with failCgroupV1 true", false, "1.37.2", "failCgroupV1: true\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newKubeLabWith(t, kube.Options{}, nil, func(s *host.Spec) { s.CgroupV1 = tc.v1 }, "master-1")
			l.prepareAt("master-1", tc.version)
			l.pin("master-1", addrs["master-1"])
			if got := l.must("master-1", "test -f /sys/fs/cgroup/cgroup.controllers && echo v2 || echo v1"); got != map[bool]string{true: "v1\n", false: "v2\n"}[tc.v1] {
				t.Fatalf("the host's hierarchy reads as %q", got)
			}
			l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfigAt("master-1", tc.version, tc.kubelet))
			if !tc.runs {
				l.fails("master-1", initCmd, 1, "error execution phase wait-control-plane: failed while waiting for the kubelet to start")
				l.fails("master-1", "systemctl is-active kubelet", 3, "activating")
				return
			}
			l.must("master-1", initCmd)
			if got := l.must("master-1", "systemctl is-active kubelet"); got != "active\n" {
				t.Fatalf("kubelet %q", got)
			}
		})
	}
}

// A worker on cgroup v1 joining a 1.35 cluster whose init configuration
// left failCgroupV1 out gets the default and never starts; one whose
// cluster set it false joins.
func TestKubeletCgroupV1Join(t *testing.T) {
	for _, tc := range []struct {
		kubelet string
		joins   bool
	}{{"", false}, {"failCgroupV1: false\n", true}} {
		l := newKubeLabWith(t, kube.Options{}, nil, func(s *host.Spec) { s.CgroupV1 = s.Name == "worker-1" }, "master-1", "worker-1")
		for _, n := range []string{"master-1", "worker-1"} {
			l.prepareAt(n, "1.35.4")
			l.pin(n, addrs["master-1"])
		}
		l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfigAt("master-1", "1.35.4", tc.kubelet))
		l.must("master-1", initCmd)
		l.put("worker-1", "/etc/kubernetes/homelab/join.yaml", joinConfig("worker-1", token, l.caPin(), "", false))
		if tc.joins {
			l.must("worker-1", joinCmd)
			continue
		}
		l.fails("worker-1", joinCmd, 1, "error execution phase kubelet-wait-bootstrap: failed while waiting for the kubelet to start")
	}
}
