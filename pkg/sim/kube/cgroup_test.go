package kube_test

import (
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/sim/host"
	"github.com/homelabctl/homelab/pkg/sim/kube"
)

// ignoreSysVerif skips kubeadm's SystemVerification, which from 1.35
// fails on a cgroup v1 host (TestSystemVerificationCgroupV1).
const ignoreSysVerif = " --ignore-preflight-errors=SystemVerification"

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
				l.fails("master-1", initCmd+ignoreSysVerif, 1, "error execution phase wait-control-plane: failed while waiting for the kubelet to start")
				l.fails("master-1", "systemctl is-active kubelet", 3, "activating")
				return
			}
			l.must("master-1", initCmd+ignoreSysVerif)
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
			l.must("worker-1", joinCmd+ignoreSysVerif)
			continue
		}
		l.fails("worker-1", joinCmd+ignoreSysVerif, 1, "error execution phase kubelet-wait-bootstrap: failed while waiting for the kubelet to start")
	}
}

// kubeadm's SystemVerification (its CgroupsValidator) fails on a cgroup
// v1 host from kubelet 1.35, whatever failCgroupV1 says, unless the check
// is ignored through --ignore-preflight-errors or the config's
// nodeRegistration.ignorePreflightErrors (merged, case-insensitive, "all"
// for every check); ignored, it is a warning. 1.34 only warns; cgroup v2
// passes.
func TestSystemVerificationCgroupV1(t *testing.T) {
	const (
		deprecated  = "cgroups v1 support is deprecated and will be removed in a future release. Please migrate to cgroups v2. To explicitly enable cgroups v1 support for kubelet v1.35 or newer, you must set the kubelet configuration option 'FailCgroupV1' to 'false'. You must also explicitly skip this validation. For more information, see https://git.k8s.io/enhancements/keps/sig-node/5573-remove-cgroup-v1"
		maintenance = "cgroups v1 support is in maintenance mode, please migrate to cgroups v2"
	)
	for _, tc := range []struct {
		name     string
		v1       bool
		version  string
		flag     string // --ignore-preflight-errors
		config   string // nodeRegistration.ignorePreflightErrors
		status   int
		want     string // in stderr
		unwanted string // not in stdout or stderr
	}{
		{"1.37 cgroup v1 fails", true, "1.37.2", "", "", 1, "\t[ERROR SystemVerification]: " + deprecated + "\n", ""},
		{"1.37 cgroup v1 another check ignored fails", true, "1.37.2", "Swap", "", 1, "\t[ERROR SystemVerification]: " + deprecated + "\n", ""},
		{"1.37 cgroup v1 flag ignores", true, "1.37.2", "SystemVerification", "", 0, "\t[WARNING SystemVerification]: " + deprecated + "\n", "[ERROR"},
		{"1.37 cgroup v1 config ignores", true, "1.37.2", "", "[SystemVerification]", 0, "\t[WARNING SystemVerification]: " + deprecated + "\n", "[ERROR"},
		{"1.37 cgroup v1 config ignores case-insensitively", true, "1.37.2", "", "[systemverification]", 0, "\t[WARNING SystemVerification]: " + deprecated + "\n", "[ERROR"},
		{"1.37 cgroup v1 all ignores", true, "1.37.2", "all", "", 0, "\t[WARNING SystemVerification]: " + deprecated + "\n", "[ERROR"},
		{"1.37 all with another check is refused", true, "1.37.2", "all", "[SystemVerification]", 1, `ignore-preflight-errors: Invalid value: "all,systemverification": don't specify individual checks if 'all' is used`, "[preflight]"},
		{"1.37 cgroup v2 passes", false, "1.37.2", "", "", 0, "", "SystemVerification"},
		{"1.37 cgroup v2 ignored passes", false, "1.37.2", "SystemVerification", "", 0, "", "SystemVerification"},
		{"1.34 cgroup v1 warns", true, "1.34.2", "", "", 0, "\t[WARNING SystemVerification]: " + maintenance + "\n", "[ERROR"},
		{"1.34 cgroup v1 ignored warns", true, "1.34.2", "", "[SystemVerification]", 0, "\t[WARNING SystemVerification]: " + maintenance + "\n", "[ERROR"},
		{"1.34 cgroup v2 passes", false, "1.34.2", "", "", 0, "", "SystemVerification"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newKubeLabWith(t, kube.Options{}, nil, func(s *host.Spec) { s.CgroupV1 = tc.v1 }, "master-1")
			l.prepareAt("master-1", tc.version)
			l.pin("master-1", addrs["master-1"])
			cfg := initConfigAt("master-1", tc.version, "failCgroupV1: false\n")
			if tc.config != "" {
				cfg = strings.Replace(cfg, "\nnodeRegistration:\n", "\nnodeRegistration:\n  ignorePreflightErrors: "+tc.config+"\n", 1)
			}
			l.put("master-1", "/etc/kubernetes/homelab/init.yaml", cfg)
			cmd := initCmd
			if tc.flag != "" {
				cmd += " --ignore-preflight-errors=" + tc.flag
			}
			st, out, errs := l.ssh("master-1", cmd)
			if st != tc.status || !strings.Contains(errs, tc.want) || (tc.unwanted != "" && strings.Contains(out+errs, tc.unwanted)) {
				t.Fatalf("%s\ngot exit %d\nstdout: %s\nstderr: %s\nwant exit %d, %q in stderr and no %q", cmd, st, out, errs, tc.status, tc.want, tc.unwanted)
			}
		})
	}
}

// A worker on cgroup v1 joins a 1.37 cluster only when its
// JoinConfiguration (or the flag) ignores SystemVerification.
func TestSystemVerificationCgroupV1Join(t *testing.T) {
	l := newKubeLabWith(t, kube.Options{}, nil, func(s *host.Spec) { s.CgroupV1 = s.Name == "worker-1" }, "master-1", "worker-1")
	for _, n := range []string{"master-1", "worker-1"} {
		l.prepareAt(n, "1.37.2")
		l.pin(n, addrs["master-1"])
	}
	l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfigAt("master-1", "1.37.2", "failCgroupV1: false\n"))
	l.must("master-1", initCmd)
	join := joinConfig("worker-1", token, l.caPin(), "", false)
	l.put("worker-1", "/etc/kubernetes/homelab/join.yaml", join)
	l.fails("worker-1", joinCmd, 1, "\t[ERROR SystemVerification]: cgroups v1 support is deprecated")
	l.put("worker-1", "/etc/kubernetes/homelab/join.yaml", strings.Replace(join, "\nnodeRegistration:\n", "\nnodeRegistration:\n  ignorePreflightErrors:\n    - SystemVerification\n", 1))
	if st, out, errs := l.ssh("worker-1", joinCmd); st != 0 || !strings.Contains(errs, "\t[WARNING SystemVerification]: cgroups v1 support is deprecated") {
		t.Fatalf("join: exit %d\nstdout: %s\nstderr: %s\nwant exit 0 and the SystemVerification warning", st, out, errs)
	}
}
