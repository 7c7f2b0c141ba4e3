package homelab

import "github.com/homelabctl/homelab/pkg/inventory"

// Bounds of DefaultParallelism.
const (
	minParallelism = 4
	maxParallelism = 64
)

// DefaultParallelism is how many steps run at once when the caller does
// not say (--parallel, ApplyOptions.Parallelism): as many guest operations
// as the Proxmox nodes take at once (nodes × proxmox.parallel_per_node,
// which the per-node locks enforce anyway), at least 4 (the steps over
// SSH and on the router need no node) and at most 64.
func DefaultParallelism(inv *inventory.Inventory) int {
	per := max(inv.Proxmox.ParallelPerNode, 1)
	return min(max(len(inv.Proxmox.Nodes)*per, minParallelism), maxParallelism)
}
