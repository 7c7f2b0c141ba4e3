// Package proxmox is the guests phase: it creates, observes and removes the
// lab's VMs and LXC containers on Proxmox VE, and is the only code that
// talks to the Proxmox VE API.
//
// The phase produces two steps per guest: guest/<name> creates the guest
// (a full clone of a VM template, or a container from a template archive)
// and configures it; guest/<name>/boot starts it and waits until it
// answers. Clones from one template copy are serialised by a lock on the
// template; every guest operation holds a lock on its node, whose capacity
// is the inventory's proxmox.parallel_per_node.
package proxmox
