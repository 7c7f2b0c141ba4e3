package simlab

import (
	"sync"
	"testing"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
)

func loadInventory(t *testing.T, path string) *inventory.Inventory {
	t.Helper()
	inv, _, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// infraAndLoadBalancers is plans/infrastructure.yaml plus the
// loadbalancers phase.
func infraAndLoadBalancers(t *testing.T) *plan.File {
	t.Helper()
	file, err := plan.LoadFile("../homelab/testdata/infrastructure-loadbalancers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// outputSink collects the steps' output lines.
type outputSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *outputSink) Event(e engine.Event) {
	if e.Kind == engine.StepOutput {
		s.mu.Lock()
		s.lines = append(s.lines, string(e.Step)+": "+e.Line)
		s.mu.Unlock()
	}
}
