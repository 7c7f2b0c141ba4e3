package homelab_test

import (
	. "github.com/homelabctl/homelab/pkg/homelab"
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
)

// The default parallelism is what the nodes take at once, within 4..64.
func TestDefaultParallelism(t *testing.T) {
	nodes := func(n int) []inventory.Node { return make([]inventory.Node, n) }
	for _, c := range []struct {
		nodes, per, want int
	}{
		{1, 2, 4}, {3, 2, 6}, {30, 2, 60}, {40, 2, 64}, {2, 0, 4},
	} {
		inv := &inventory.Inventory{Proxmox: inventory.Proxmox{Nodes: nodes(c.nodes), ParallelPerNode: c.per}}
		if got := DefaultParallelism(inv); got != c.want {
			t.Errorf("%d nodes × %d: %d, want %d", c.nodes, c.per, got, c.want)
		}
	}
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	if got := DefaultParallelism(inv); got != 6 {
		t.Errorf("the reference lab: %d", got)
	}
}
