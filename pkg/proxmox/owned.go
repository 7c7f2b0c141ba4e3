package proxmox

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
)

// OwnedGuest is a guest that carries an inventory's mark.
type OwnedGuest struct {
	Name string
	Node string
	Kind string
	VMID int
}

// OwnedGuests lists the guests that belong to inventory inv: those whose
// description carries "homelab:<inv>:", and those with the owner tag whose
// vmid the inventory names. Configs are read only for guests that carry
// the tag or whose vmid the inventory names.
func (c *Client) OwnedGuests(ctx context.Context, inv string, vmids []int) ([]OwnedGuest, error) {
	c.Forget()
	guests, err := c.Guests(ctx)
	if err != nil {
		return nil, err
	}
	var out []OwnedGuest
	for _, g := range guests {
		named := slices.Contains(vmids, int(g.VMID))
		if !named && !hasTag(g.Tags, OwnerTag) {
			continue
		}
		kind := inventory.KindVM
		if g.Type == "lxc" {
			kind = inventory.KindLXC
		}
		cfg, ok, err := c.config(ctx, g.Node, kind, int(g.VMID))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		// Another inventory's mark wins over a shared vmid.
		mine := named && hasTag(str(cfg["tags"]), OwnerTag)
		if desc := str(cfg["description"]); strings.HasPrefix(desc, "homelab:") {
			mine = strings.HasPrefix(desc, "homelab:"+inv+":")
		}
		if mine {
			out = append(out, OwnedGuest{Name: g.Name, Node: g.Node, Kind: kind, VMID: int(g.VMID)})
		}
	}
	return out, nil
}

// RemoveGuest stops and deletes a guest that carries homelab's mark; a
// guest already gone counts as removed.
func (c *Client) RemoveGuest(ctx context.Context, g OwnedGuest, out io.Writer) error {
	if err := c.remove(ctx, g.Node, g.Kind, g.VMID, out); err != nil {
		return err
	}
	c.drop(g.VMID)
	return nil
}
