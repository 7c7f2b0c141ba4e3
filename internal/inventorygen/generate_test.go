package inventorygen

import (
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
)

func TestGenerateIsValid(t *testing.T) {
	for _, size := range [][2]int{{1, 8}, {3, 15}, {30, 1000}} {
		inv, _, err := inventory.Parse("generated.yaml", Generate(size[0], size[1]))
		if err != nil {
			t.Fatalf("%v: %v", size, err)
		}
		if len(inv.Guests) != size[1] || len(inv.Proxmox.Nodes) != size[0] {
			t.Fatalf("%v: %d guests on %d nodes", size, len(inv.Guests), len(inv.Proxmox.Nodes))
		}
	}
}
