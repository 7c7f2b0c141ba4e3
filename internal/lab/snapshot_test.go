package lab

import "testing"

// machineBaseline is Baseline for a test.
func machineBaseline(t *testing.T) MachineState {
	t.Helper()
	s, err := Baseline(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertUnchanged fails the test for every part of the machine's state
// that differs from before.
func assertUnchanged(t *testing.T, before MachineState) {
	t.Helper()
	changes, err := before.Changes()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		t.Errorf("the lab changed the machine: %s", c)
	}
}

// The process supervisor's per-job cgroups come and go with other work on
// the machine; every other new cgroup, a lab host's escape among them,
// still counts.
func TestVolatileCgroup(t *testing.T) {
	for p, want := range map[string]bool{
		"/sys/fs/cgroup/memory/process_api":                           false,
		"/sys/fs/cgroup/memory/process_api/5ff266494c108f66":          true,
		"/sys/fs/cgroup/memory/process_api/5ff266494c108f66/sub":      true,
		"/sys/fs/cgroup/memory/system.slice/haproxy.service":          false,
		"/sys/fs/cgroup/memory/hle-cp-1/system.slice/kubelet.service": false,
		"/sys/fs/cgroup/memory/kubepods/process_api":                  false,
	} {
		if got := volatileCgroup(p); got != want {
			t.Errorf("volatileCgroup(%q) = %v, want %v", p, got, want)
		}
	}
}
