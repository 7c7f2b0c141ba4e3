package proxmox

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
)

// Spec is one guest as the inventory wants it, in Proxmox's terms.
type Spec struct {
	Name string
	Kind string // inventory.KindVM or inventory.KindLXC
	Node string
	VMID int
	// Template is the VM template copy to clone (VMs).
	Template *inventory.VMTemplate
	// OSTemplate is the container template's volume ID (LXC).
	OSTemplate string
	Cores      int
	MemoryMiB  int
	DiskGiB    int
	Storage    string
	Bridge     string
	VLAN       int // 0: untagged
	MAC        string
	IP         netip.Prefix
	Gateway    netip.Addr
	DNS        []netip.Addr
	Domain     string
	SSHUser    string
	SSHKeys    []string
	Nesting    bool
	CIUpgrade  bool // cloud-init upgrades every package at first boot (VMs)
	// OnBoot starts the guest with its node (PVE onboot).
	OnBoot bool
	// Startup is PVE's startup property: "order=N[,up=N][,down=N]".
	Startup string
	// Agent sets PVE's agent option: the VM template runs the guest agent.
	Agent bool
	// Mark is the description that says homelab owns the guest
	// ("homelab:<inventory>:<guest>"); it is set at creation, before tags.
	Mark string
}

// SpecFor derives a guest's Spec from the inventory.
func SpecFor(inv *inventory.Inventory, g *inventory.Guest) (Spec, error) {
	n, ok := inv.Network(g.Network)
	if !ok {
		return Spec{}, fmt.Errorf("guest %s: unknown network %q", g.Name, g.Network)
	}
	s := Spec{
		Name: g.Name, Kind: g.Kind, Node: g.Node, VMID: g.VMID,
		Cores: g.Cores, MemoryMiB: g.Memory, DiskGiB: g.Disk, Storage: g.Storage,
		Bridge: n.Proxmox.Bridge, MAC: strings.ToUpper(g.MAC),
		IP: netip.PrefixFrom(g.IP, n.CIDR.Bits()), Gateway: n.Gateway, DNS: n.DNS, Domain: inv.Router.Domain,
		Nesting: g.Kind == inventory.KindLXC && (g.Nesting == nil || *g.Nesting), CIUpgrade: g.CloudInitUpgrade, Mark: fmt.Sprintf("homelab:%s:%s", inv.Name, g.Name),
		OnBoot: g.OnBoot == nil || *g.OnBoot, Startup: startupString(g.Startup),
	}
	if n.Proxmox.Tagged == nil || *n.Proxmox.Tagged {
		s.VLAN = n.VLAN
	}
	if g.SSH != nil {
		s.SSHUser = g.SSH.User
		s.SSHKeys = g.SSH.Keys
	}
	if g.Kind == inventory.KindVM {
		t, ok := inv.VMTemplate(g.Template, g.Node)
		if !ok {
			return Spec{}, fmt.Errorf("guest %s: no copy of VM template %q on node %s", g.Name, g.Template, g.Node)
		}
		s.Template = t
		s.Agent = t.Agent
	} else {
		for _, t := range inv.Proxmox.Templates.LXC {
			if t.Name == g.Template {
				s.OSTemplate = t.VolID
			}
		}
		if s.OSTemplate == "" {
			return Spec{}, fmt.Errorf("guest %s: unknown LXC template %q", g.Name, g.Template)
		}
	}
	return s, nil
}

// net0 is the guest's first NIC as PVE writes it.
func (s Spec) net0() string {
	var b strings.Builder
	if s.Kind == inventory.KindVM {
		fmt.Fprintf(&b, "virtio=%s,bridge=%s", s.MAC, s.Bridge)
	} else {
		fmt.Fprintf(&b, "name=eth0,bridge=%s,hwaddr=%s,ip=%s,gw=%s", s.Bridge, s.MAC, s.IP, s.Gateway)
	}
	if s.VLAN > 0 {
		fmt.Fprintf(&b, ",tag=%d", s.VLAN)
	}
	if s.Kind != inventory.KindVM {
		b.WriteString(",type=veth")
	}
	return b.String()
}

// startupString is PVE's startup property for st (nil: none).
func startupString(st *inventory.Startup) string {
	if st == nil {
		return ""
	}
	out := fmt.Sprintf("order=%d", st.Order)
	if st.Up > 0 {
		out += fmt.Sprintf(",up=%d", st.Up)
	}
	if st.Down > 0 {
		out += fmt.Sprintf(",down=%d", st.Down)
	}
	return out
}

// onboot is the onboot value PVE stores.
func (s Spec) onboot() string {
	if s.OnBoot {
		return "1"
	}
	return "0"
}

func (s Spec) nameservers() string {
	out := make([]string, len(s.DNS))
	for i, a := range s.DNS {
		out[i] = a.String()
	}
	return strings.Join(out, " ")
}

// wanted are the config keys homelab manages, with the values it wants.
// Keys marked live can change on a running guest; the others can change
// only while it is stopped (cloud-init and NICs are read at boot).
type wanted struct {
	key, value string
	live       bool
}

// same reports whether have, a config value ("" when absent), is what w
// wants; an absent key has the value PVE assumes for it.
func (w wanted) same(have string) bool {
	if have == "" {
		have = unsetValue(w.key)
	}
	return sameValue(w.key, have, w.value)
}

// unsetValue is the value PVE assumes for a key absent from a config, for
// the managed keys where it matters.
func unsetValue(key string) string {
	switch key {
	case "onboot":
		return "0"
	case "ciupgrade":
		return "1" // PVE 8.1+: cloud-init upgrades unless told not to
	}
	return ""
}

func (s Spec) wanted() []wanted {
	w := []wanted{
		{"cores", strconv.Itoa(s.Cores), true},
		{"memory", strconv.Itoa(s.MemoryMiB), true},
		{"net0", s.net0(), false},
		{"nameserver", s.nameservers(), false},
		{"searchdomain", s.Domain, false},
		// PVE applies onboot and startup at once, even to a running guest.
		{"onboot", s.onboot(), true},
	}
	if s.Startup != "" {
		w = append(w, wanted{"startup", s.Startup, true})
	}
	if s.Kind == inventory.KindVM {
		w = append(w,
			wanted{"ipconfig0", fmt.Sprintf("ip=%s,gw=%s", s.IP, s.Gateway), false},
		)
		// Only a template with the guest agent gets the option: without
		// the agent PVE's shutdown waits for it, then stops the VM hard.
		// Without it homelab leaves the key as the template has it.
		if s.Agent {
			w = append(w, wanted{"agent", "enabled=1", false})
		}
		w = append(w, wanted{"ciupgrade", map[bool]string{false: "0", true: "1"}[s.CIUpgrade], true}) // read at first boot only: set while running
		if s.SSHUser != "" {
			w = append(w, wanted{"ciuser", s.SSHUser, false})
		}
	} else {
		w = append(w, wanted{"hostname", s.Name, false})
	}
	return w
}
