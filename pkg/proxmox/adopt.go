package proxmox

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

// ObserveAdopt finds the guest of the step's vmid. One without homelab's
// mark whose name, kind and node are the inventory's can be adopted: the
// change is the mark (the homelab tag, and the description's first line
// "homelab:<inventory>:<guest>" above what it said). A guest that clashes
// (the vmid with another name, kind or node, or the name under another
// vmid) is a conflict; a guest that is absent or already marked has
// nothing to adopt.
func (w GuestWork) ObserveAdopt(ctx context.Context) (step.Change, error) {
	a, err := w.observeAdopt(ctx)
	return a.change, err
}

type adoption struct {
	change step.Change
}

func (w GuestWork) observeAdopt(ctx context.Context) (adoption, error) {
	s := w.Spec
	w.Client.Forget()
	guests, err := w.Client.Guests(ctx)
	if err != nil {
		return adoption{}, err
	}
	var node, kind string
	for _, g := range guests {
		switch {
		case int(g.VMID) == s.VMID:
			node, kind = g.Node, map[string]string{"qemu": inventory.KindVM, "lxc": inventory.KindLXC}[g.Type]
		case g.Name == s.Name && g.Template == 0:
			return adoption{change: step.Change{Action: step.Conflict, Reason: fmt.Sprintf(
				"a guest named %s exists as vmid %d on %s, the inventory says vmid %d: homelab adopts only a guest whose vmid, name, kind and node all match", s.Name, g.VMID, g.Node, s.VMID)}}, nil
		}
	}
	if node == "" {
		return adoption{change: step.Change{Action: step.None, Reason: "absent: up creates it"}}, nil
	}
	cfg, ok, err := w.Client.config(ctx, node, kind, s.VMID)
	if err != nil || !ok {
		return adoption{change: step.Change{Action: step.None, Reason: "absent: up creates it"}}, err
	}
	if owned(cfg) {
		return adoption{change: step.Change{Action: step.None, Reason: "already marked as homelab's"}}, nil
	}
	name := str(cfg["name"]) + str(cfg["hostname"])
	var differ []string
	if name != s.Name {
		differ = append(differ, fmt.Sprintf("its name is %q, not %q", name, s.Name))
	}
	if kind != s.Kind {
		differ = append(differ, fmt.Sprintf("it is a %s, not a %s", kind, s.Kind))
	}
	if node != s.Node {
		differ = append(differ, fmt.Sprintf("it is on %s, not %s (homelab moves nothing)", node, s.Node))
	}
	if len(differ) > 0 {
		return adoption{change: step.Change{Action: step.Conflict, Reason: fmt.Sprintf("vmid %d does not match the inventory's %s: %s", s.VMID, s.Name, strings.Join(differ, "; "))}}, nil
	}
	desc := str(cfg["description"])
	mark := s.Mark
	if desc != "" {
		mark += "\n" + desc
	}
	change := step.Change{Action: step.Update, Fields: []step.Field{
		{Name: "tags", Old: str(cfg["tags"]), New: addTag(str(cfg["tags"]), OwnerTag)},
		{Name: "description", Old: desc, New: mark},
	}}
	// What up would change once the guest is homelab's, for review.
	var later []string
	for _, want := range s.wanted() {
		if have := str(cfg[want.key]); !want.same(have) {
			later = append(later, fmt.Sprintf("%s %q -> %q", want.key, have, want.value))
		}
	}
	if len(later) > 0 {
		change.Reason = "after adoption, up would change: " + strings.Join(later, ", ")
	}
	return adoption{change: change}, nil
}

// Adopt observes again and, if the guest can still be adopted, sets its
// tags and description (one config call; PVE applies both at once, even
// to a running guest, without a restart).
func (w GuestWork) Adopt(ctx context.Context, out io.Writer) error {
	a, err := w.observeAdopt(ctx)
	if err != nil {
		return err
	}
	defer w.Client.Forget()
	switch a.change.Action {
	case step.Update:
		if err := w.update(ctx, found{change: step.Change{Fields: a.change.Fields}}, out); err != nil {
			return err
		}
		fmt.Fprintf(out, "marked %s (%d) as homelab's\n", w.Spec.Name, w.Spec.VMID)
		return nil
	case step.Conflict:
		return fmt.Errorf("guest %s: %s", w.Spec.Name, a.change.Reason)
	}
	return nil
}
