package inventory

import (
	"crypto/sha256"
	"fmt"
	"net"
	"slices"
)

// Well-known roles.
const (
	RoleLoadBalancer = "loadbalancer"
	RoleControlPlane = "control-plane"
	RoleWorker       = "worker"
)

// DeriveMAC returns the MAC address homelab gives a guest that names none:
// a locally administered unicast address (02:...) whose other five bytes
// come from a hash of the inventory and guest names, so it is the same on
// every run and differs between guests.
func DeriveMAC(inventory, guest string) string {
	sum := sha256.Sum256([]byte("homelab:" + inventory + ":" + guest))
	mac := net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]}
	return mac.String()
}

// Guest returns the guest with the given name.
func (inv *Inventory) Guest(name string) (*Guest, bool) {
	for i := range inv.Guests {
		if inv.Guests[i].Name == name {
			return &inv.Guests[i], true
		}
	}
	return nil, false
}

// Network returns the network with the given name.
func (inv *Inventory) Network(name string) (*Network, bool) {
	for i := range inv.Networks {
		if inv.Networks[i].Name == name {
			return &inv.Networks[i], true
		}
	}
	return nil, false
}

// GuestsWithRole returns the guests that carry role, in inventory order.
func (inv *Inventory) GuestsWithRole(role string) []*Guest {
	var out []*Guest
	for i := range inv.Guests {
		if inv.Guests[i].HasRole(role) {
			out = append(out, &inv.Guests[i])
		}
	}
	return out
}

// HasRole reports whether the guest carries role.
func (g *Guest) HasRole(role string) bool { return slices.Contains(g.Roles, role) }

// VMTemplate returns the copy of the named VM template that a VM on node
// is cloned from: the copy on that node, else a copy on shared storage.
func (inv *Inventory) VMTemplate(name, node string) (*VMTemplate, bool) {
	var shared *VMTemplate
	for i := range inv.Proxmox.Templates.VM {
		t := &inv.Proxmox.Templates.VM[i]
		if t.Name != name {
			continue
		}
		if t.Node == node {
			return t, true
		}
		if t.Shared && shared == nil {
			shared = t
		}
	}
	return shared, shared != nil
}

// LXCTemplate returns the LXC template with the given name.
func (inv *Inventory) LXCTemplate(name string) (*LXCTemplate, bool) {
	for i := range inv.Proxmox.Templates.LXC {
		if inv.Proxmox.Templates.LXC[i].Name == name {
			return &inv.Proxmox.Templates.LXC[i], true
		}
	}
	return nil, false
}

// VIP returns the load balancer's VIP with the given name.
func (inv *Inventory) VIP(name string) (*VIP, bool) {
	if inv.LoadBalancer == nil {
		return nil, false
	}
	for i := range inv.LoadBalancer.VIPs {
		if inv.LoadBalancer.VIPs[i].Name == name {
			return &inv.LoadBalancer.VIPs[i], true
		}
	}
	return nil, false
}

// FQDN returns name in the router's domain, or name itself when it already
// has a dot or there is no domain.
func (inv *Inventory) FQDN(name string) string {
	if inv.Router.Domain == "" || slices.Contains([]byte(name), '.') {
		return name
	}
	return fmt.Sprintf("%s.%s", name, inv.Router.Domain)
}

// ControlPlanes returns the Kubernetes control-plane guests; the first is
// master1, the node kubeadm init runs on.
func (inv *Inventory) ControlPlanes() []*Guest {
	if inv.Kubernetes == nil {
		return nil
	}
	return inv.GuestsWithRole(inv.Kubernetes.ControlPlaneRole)
}

// Workers returns the Kubernetes worker guests.
func (inv *Inventory) Workers() []*Guest {
	if inv.Kubernetes == nil {
		return nil
	}
	return inv.GuestsWithRole(inv.Kubernetes.WorkerRole)
}

// LoadBalancers returns the guests that run HAProxy and keepalived.
func (inv *Inventory) LoadBalancers() []*Guest {
	if inv.LoadBalancer == nil {
		return nil
	}
	return inv.GuestsWithRole(inv.LoadBalancer.Role)
}
