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
