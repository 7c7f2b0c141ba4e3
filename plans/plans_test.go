package plans

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Every YAML file in plans/ is built in, byte for byte, by its name.
func TestBuiltinPlansAreTheFiles(t *testing.T) {
	paths, err := filepath.Glob("*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no plan files: %v", err)
	}
	var want []string
	for _, p := range paths {
		name := p[:len(p)-len(".yaml")]
		want = append(want, name)
		data, ok := Read(name)
		disk, _ := os.ReadFile(p)
		if !ok || string(data) != string(disk) {
			t.Errorf("built-in %s differs from %s", name, p)
		}
	}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	if !slices.Contains(Names(), Default) {
		t.Errorf("the default plan %q is not built in", Default)
	}
	for _, bad := range []string{"", "full-stack.yaml", "../go", "./network", "nope"} {
		if _, ok := Read(bad); ok {
			t.Errorf("Read(%q) found a plan", bad)
		}
	}
}
