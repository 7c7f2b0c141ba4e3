package inventory

import "fmt"

// Startup is when Proxmox VE starts a guest as its node boots, and how long
// it gives the guest to stop when the node shuts down (PVE's startup
// property). PVE orders the guests of each node on their own: there is no
// order across nodes.
type Startup struct {
	// Order is the guest's place in its node's boot sequence, lower first;
	// guests stop in the reverse order. 0 or absent: by role (see
	// StartupOrder).
	Order int `yaml:"order"`
	// Up is how many seconds PVE waits after starting this guest before it
	// starts the next one (0: none).
	Up int `yaml:"up"`
	// Down is how many seconds PVE waits for this guest to shut down before
	// it stops it (0: PVE's default).
	Down int `yaml:"down"`
}

// Boot order of guests by role, the order PVE starts them in on a node.
const (
	StartupConsul       = 10
	StartupVault        = 20
	StartupLoadBalancer = 30
	StartupControlPlane = 40
	StartupWorker       = 50
	StartupOther        = 60
)

// StartupOrder is a guest's place in its node's boot sequence when the
// inventory gives none, from its roles; a guest with several roles takes
// the earliest:
//
//	10  consul         service discovery (and Vault's storage)
//	20  vault          secrets the others read as they start
//	30  load balancer  the VIPs the API and the services are reached at
//	40  control plane  the Kubernetes API, behind the VIP
//	50  worker         joins the control plane
//	60  any other guest
//
// The load balancer, control-plane and worker roles are the inventory's
// (loadbalancer.role, kubernetes.control_plane_role, worker_role).
func (inv *Inventory) StartupOrder(g *Guest) int {
	lb, cp, worker := RoleLoadBalancer, RoleControlPlane, RoleWorker
	if inv.LoadBalancer != nil && inv.LoadBalancer.Role != "" {
		lb = inv.LoadBalancer.Role
	}
	if k := inv.Kubernetes; k != nil {
		if k.ControlPlaneRole != "" {
			cp = k.ControlPlaneRole
		}
		if k.WorkerRole != "" {
			worker = k.WorkerRole
		}
	}
	order := StartupOther
	for _, r := range g.Roles {
		switch r {
		case "consul":
			order = min(order, StartupConsul)
		case "vault":
			order = min(order, StartupVault)
		case lb:
			order = min(order, StartupLoadBalancer)
		case cp:
			order = min(order, StartupControlPlane)
		case worker:
			order = min(order, StartupWorker)
		}
	}
	return order
}

// defaultBoot fills a guest's onboot and startup from its kind's defaults,
// field by field; the order left unset is filled by role in
// defaultStartupOrders, once the roles are known.
func defaultBoot(g *Guest, d GuestDefaults) {
	if g.OnBoot == nil {
		on := true
		if d.OnBoot != nil {
			on = *d.OnBoot
		}
		g.OnBoot = &on
	}
	s := Startup{}
	if g.Startup != nil {
		s = *g.Startup
	}
	if d.Startup != nil {
		if s.Order == 0 {
			s.Order = d.Startup.Order
		}
		if s.Up == 0 {
			s.Up = d.Startup.Up
		}
		if s.Down == 0 {
			s.Down = d.Startup.Down
		}
	}
	g.Startup = &s
}

// defaultStartupOrders gives every guest without a startup order the
// order of its roles.
func defaultStartupOrders(inv *Inventory) {
	for i := range inv.Guests {
		g := &inv.Guests[i]
		if g.Startup != nil && g.Startup.Order == 0 {
			g.Startup.Order = inv.StartupOrder(g)
		}
	}
}

// startups checks the startup blocks where the file writes them: in
// defaults and on guests (a guest's values inherited from defaults are
// reported once, at the defaults).
func (v *validator) startups() {
	for kind, d := range map[string]GuestDefaults{"vm": v.inv.Defaults.VM, "lxc": v.inv.Defaults.LXC} {
		v.startup("defaults."+kind+".startup", d.Startup)
	}
	for i := range v.inv.Guests {
		f := fmt.Sprintf("guests[%d].startup", i)
		if _, written := v.inv.Source.positions[f]; written {
			v.startup(f, v.inv.Guests[i].Startup)
		}
	}
}

// startup checks what PVE's startup property accepts: `[[order=]\d+]
// [,up=\d+] [,down=\d+]`, whole non-negative numbers.
func (v *validator) startup(field string, s *Startup) {
	if s == nil {
		return
	}
	for _, n := range []struct {
		key   string
		value int
		what  string
	}{
		{"order", s.Order, "a place in the node's boot sequence (0 or absent: by role)"},
		{"up", s.Up, "seconds"},
		{"down", s.Down, "seconds"},
	} {
		if n.value < 0 {
			v.errorf(field+"."+n.key, "%d is negative: %s is %s, 0 or more", n.value, n.key, n.what)
		}
	}
}
