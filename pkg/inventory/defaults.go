package inventory

import (
	"net"
	"strings"
)

// applyDefaults fills what the file leaves out and derives what the
// inventory determines (MACs, priorities), before validation.
func applyDefaults(inv *Inventory) {
	if inv.Proxmox.ParallelPerNode == 0 {
		inv.Proxmox.ParallelPerNode = 2
	}
	if inv.Router.VLANMode == "" {
		inv.Router.VLANMode = "interfaces"
	}
	for i := range inv.Networks {
		n := &inv.Networks[i]
		if n.RouterBridge == "" {
			n.RouterBridge = "br-" + n.Name
		}
		if n.DHCP != nil && n.DHCP.LeaseTime == "" {
			n.DHCP.LeaseTime = "1d"
		}
		if n.Proxmox.Tagged == nil {
			tagged := true
			n.Proxmox.Tagged = &tagged
		}
	}
	for i := range inv.Guests {
		defaultGuest(inv, &inv.Guests[i])
	}
	if lb := inv.LoadBalancer; lb != nil {
		if lb.Role == "" {
			lb.Role = RoleLoadBalancer
		}
		priority := 150
		for _, g := range inv.LoadBalancers() {
			if g.Priority == 0 {
				g.Priority = max(priority, 1)
			}
			priority -= 10
		}
		for i := range lb.Frontends {
			c := &lb.Frontends[i].Check
			if c.Kind == "" {
				c.Kind = CheckTCP
			}
			if c.Expect == 0 && (c.Kind == CheckHTTP || c.Kind == CheckHTTPS) {
				c.Expect = 200
			}
		}
		if lb.Stats.Port == 0 {
			lb.Stats.Port = 8404
		}
		if lb.Stats.Socket == "" {
			lb.Stats.Socket = "/run/haproxy/admin.sock"
		}
	}
	if k := inv.Kubernetes; k != nil {
		if k.ControlPlaneRole == "" {
			k.ControlPlaneRole = RoleControlPlane
		}
		if k.WorkerRole == "" {
			k.WorkerRole = RoleWorker
		}
		if k.Pin == "" {
			k.Pin = "hosts"
		}
		if k.CNI.Name == "" {
			k.CNI.Name = CNICalico
		}
		if k.Packages.Source == "" {
			k.Packages.Source = PackagesUpstream
		}
		if k.Kubeconfig == "" {
			k.Kubeconfig = "~/.kube/" + inv.Name + ".conf"
		}
		if k.EndpointVIP == "" && inv.LoadBalancer != nil && len(inv.LoadBalancer.VIPs) == 1 {
			k.EndpointVIP = inv.LoadBalancer.VIPs[0].Name
		}
	}
	defaultStartupOrders(inv)
}

func defaultGuest(inv *Inventory, g *Guest) {
	var d GuestDefaults
	switch g.Kind {
	case KindVM:
		d = inv.Defaults.VM
	case KindLXC:
		d = inv.Defaults.LXC
	}
	if g.Template == "" {
		g.Template = d.Template
	}
	if g.Cores == 0 {
		g.Cores = d.Cores
	}
	if g.Memory == 0 {
		g.Memory = d.Memory
	}
	if g.Disk == 0 {
		g.Disk = d.Disk
	}
	if g.Storage == "" {
		g.Storage = d.Storage
	}
	if g.Storage == "" {
		g.Storage = inv.Proxmox.Storage
	}
	defaultBoot(g, d)
	if g.SSH == nil && d.SSH != nil {
		ssh := *d.SSH
		g.SSH = &ssh
	}
	if g.SSH == nil {
		g.SSH = &SSH{}
	}
	if g.SSH.User == "" {
		g.SSH.User = "root"
	}
	if g.SSH.Port == 0 {
		g.SSH.Port = 22
	}
	if g.MAC == "" {
		g.MAC = DeriveMAC(inv.Name, g.Name)
		g.MACDerived = true
	} else if hw, err := net.ParseMAC(g.MAC); err == nil && len(hw) == 6 {
		g.MAC = hw.String()
	} else {
		g.MAC = strings.ToLower(g.MAC) // validation reports it
	}
}
