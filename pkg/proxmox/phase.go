package proxmox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

// Phase is the "guests" phase kind. With a Client its steps observe and
// apply on the cluster; without one they can only be planned offline.
type Phase struct {
	Client *Client
	// Dial reaches guests' SSH ports when they boot; nil means net.Dialer.
	Dial Dialer
	// Replace names guests that may be rebuilt when a change cannot be
	// made in place.
	Replace []string
	// HostKeys keeps homelab's record of the guests' SSH host keys; nil
	// leaves it alone.
	HostKeys HostKeys
}

// Kind returns "guests".
func (Phase) Kind() string { return "guests" }

// Description says what the phase does.
func (Phase) Description() string {
	return "LXC containers and VMs on the Proxmox VE nodes"
}

// OwnerTag is the Proxmox tag homelab puts on every guest it creates.
const OwnerTag = "homelab"

// Steps returns, for every guest, the step that creates it and the step
// that boots it.
func (p Phase) Steps(inv *inventory.Inventory) ([]*step.Step, error) {
	var steps []*step.Step
	for i := range inv.Guests {
		g := &inv.Guests[i]
		net, ok := inv.Network(g.Network)
		if !ok {
			return nil, fmt.Errorf("guest %s: unknown network %q", g.Name, g.Network)
		}
		nodeLock := NodeLock(g.Node, inv.Proxmox.ParallelPerNode)
		create := &step.Step{
			ID:     step.GuestID(g.Name),
			Locks:  []step.Lock{nodeLock},
			Intent: step.Change{Action: step.Create, Fields: guestFields(inv, g, net)},
		}
		switch g.Kind {
		case inventory.KindVM:
			tmpl, ok := inv.VMTemplate(g.Template, g.Node)
			if !ok {
				return nil, fmt.Errorf("guest %s: no copy of VM template %q on node %s", g.Name, g.Template, g.Node)
			}
			create.Description = fmt.Sprintf("clone VM %s (%d) on %s from template %s (%d)", g.Name, g.VMID, g.Node, tmpl.Name, tmpl.VMID)
			create.Locks = append(create.Locks, TemplateLock(tmpl))
		default:
			create.Description = fmt.Sprintf("create LXC %s (%d) on %s from %s", g.Name, g.VMID, g.Node, g.Template)
		}
		boot := &step.Step{
			ID:          step.GuestBootID(g.Name),
			Description: fmt.Sprintf("start %s and wait until SSH answers on %s", g.Name, g.IP),
			// The router's reservation must exist before the guest first
			// asks for an address.
			Needs: []step.ID{create.ID, step.LeaseID(g.Name)},
			Locks: []step.Lock{nodeLock},
			// On an empty lab the guest is not there yet, as observing
			// it before its create says.
			Intent: startChange(notCreated),
		}
		if p.Client != nil {
			spec, err := SpecFor(inv, g)
			if err != nil {
				return nil, err
			}
			create.Work = GuestWork{Client: p.Client, Spec: spec, Replace: slices.Contains(p.Replace, g.Name), HostKeys: p.HostKeys, Intent: create.Intent.Fields}
			port := 22
			if g.SSH != nil && g.SSH.Port != 0 {
				port = g.SSH.Port
			}
			boot.Work = BootWork{Client: p.Client, Spec: spec, Dial: p.Dial, SSHPort: port, HostKeys: p.HostKeys}
		}
		steps = append(steps, create, boot)
	}
	return steps, nil
}

// NodeLock is the lock every guest operation on a node holds.
func NodeLock(node string, capacity int) step.Lock {
	return step.Lock{Key: "proxmox/node/" + node, Capacity: max(capacity, 1)}
}

// TemplateLock serialises clones of one template copy: PVE takes a lock on
// the template for each clone, and parallel clones time out on it.
func TemplateLock(t *inventory.VMTemplate) step.Lock {
	return step.Lock{Key: fmt.Sprintf("proxmox/template/%s/%d", t.Node, t.VMID), Capacity: 1}
}

func guestFields(inv *inventory.Inventory, g *inventory.Guest, net *inventory.Network) []step.Field {
	bits := net.CIDR.Bits()
	nic := fmt.Sprintf("bridge=%s,hwaddr=%s", net.Proxmox.Bridge, g.MAC)
	if net.Proxmox.Tagged == nil || *net.Proxmox.Tagged {
		nic += ",tag=" + strconv.Itoa(net.VLAN)
	}
	fields := []step.Field{
		step.Set("node", g.Node),
		step.Set("vmid", strconv.Itoa(g.VMID)),
		step.Set("kind", g.Kind),
		step.Set("template", g.Template),
		step.Set("cores", strconv.Itoa(g.Cores)),
		step.Set("memory", fmt.Sprintf("%d MiB", g.Memory)),
		step.Set("disk", fmt.Sprintf("%d GiB on %s", g.Disk, g.Storage)),
		step.Set("net0", nic),
		step.Set("ip", fmt.Sprintf("%s/%d gw %s", g.IP, bits, net.Gateway)),
		step.Set("tags", OwnerTag),
	}
	onboot := "0"
	if g.OnBoot == nil || *g.OnBoot {
		onboot = "1"
	}
	fields = append(fields, step.Set("onboot", onboot))
	if st := startupString(g.Startup); st != "" {
		fields = append(fields, step.Set("startup", st))
	}
	if t, ok := inv.VMTemplate(g.Template, g.Node); ok && g.Kind == inventory.KindVM && t.Agent {
		fields = append(fields, step.Set("agent", "enabled=1"))
	}
	if g.SSH != nil {
		fields = append(fields, step.Set("ssh_user", g.SSH.User))
	}
	if len(g.Roles) > 0 {
		fields = append(fields, step.Set("roles", strings.Join(g.Roles, ",")))
	}
	return fields
}
