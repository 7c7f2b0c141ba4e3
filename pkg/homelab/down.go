package homelab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeadm"
	"github.com/homelabctl/homelab/pkg/routeros"
)

// Removal is one thing Down would remove. Only what carries the
// inventory's mark is ever listed: guests with homelab's description or
// tag, router entries with the homelab:<inventory>: comment.
type Removal struct {
	Phase string
	What  string
	// Keep says why the entry stays, or "" when it will be removed.
	Keep string
	// Backup marks the first entry of DownPlanWith when the removals take
	// a control plane of the inventory's cluster: the backup Down takes
	// before it removes anything. It removes nothing.
	Backup bool
	remove func(context.Context, io.Writer) error
}

// DownOptions tune DownPlanWith.
type DownOptions struct {
	// NoBackup: no backup of the cluster first (down --no-backup).
	NoBackup bool
	// Now is the backup's time; nil is time.Now.
	Now func() time.Time
}

// DownPlan lists what Down would remove, in the order it would: guests
// first, then the admin kubeconfig homelab wrote when every control plane
// goes (the cluster goes with them), then the router's entries in the
// reverse of the order they were made. It only reads. It takes no backup
// first: DownPlanWith does.
func DownPlan(ctx context.Context, inv *inventory.Inventory, c Clients) ([]Removal, error) {
	return DownPlanWith(ctx, inv, c, DownOptions{NoBackup: true})
}

// DownPlanWith is what `homelab down` does: DownPlan's removals and,
// unless opts.NoBackup, when they take a control plane of the inventory's
// cluster, first an entry (Removal.Backup) that backs the cluster up as
// Backup does, into a new directory under kubernetes.backup_dir, and says
// where. When Down comes to it and no control plane answers (the cluster
// is gone already), it says so and Down goes on; when the backup fails,
// or a control plane answers while no backup_dir is set (a
// *BackupDirError), Down stops before it removes anything. It only reads.
func DownPlanWith(ctx context.Context, inv *inventory.Inventory, c Clients, opts DownOptions) ([]Removal, error) {
	var out []Removal
	if c.Proxmox != nil {
		vmids := make([]int, len(inv.Guests))
		for i, g := range inv.Guests {
			vmids[i] = g.VMID
		}
		guests, err := c.Proxmox.OwnedGuests(ctx, inv.Name, vmids)
		if err != nil {
			return nil, fmt.Errorf("list homelab's guests: %w", err)
		}
		names := map[string]bool{}
		for _, g := range guests {
			names[g.Name] = true
		}
		for _, g := range guests {
			out = append(out, Removal{
				Phase: "guests",
				What:  fmt.Sprintf("%s %s (%d) on %s", g.Kind, g.Name, g.VMID, g.Node),
				remove: func(ctx context.Context, w io.Writer) error {
					if err := c.Proxmox.RemoveGuest(ctx, g, w); err != nil {
						return err
					}
					return c.forgetHostKeys(inv, g.Name, w)
				},
			})
		}
		if r, ok := downKubeconfig(inv, c, names); ok {
			out = append(out, r)
		}
		if cps := destroyedControlPlanes(inv, func(n string) bool { return names[n] }); len(cps) > 0 && !opts.NoBackup {
			out = append([]Removal{downBackup(inv, c, cps, opts.Now)}, out...)
		}
	}
	if c.Router != nil {
		entries, err := routeros.OwnedEntries(ctx, c.Router, inv.Name)
		if err != nil {
			return nil, fmt.Errorf("list homelab's router entries: %w", err)
		}
		for _, e := range entries {
			out = append(out, Removal{
				Phase:  "network",
				What:   fmt.Sprintf("%s %s", e.Menu, e.Comment),
				Keep:   e.Keep,
				remove: func(ctx context.Context, w io.Writer) error { return routeros.Remove(ctx, c.Router, e, w) },
			})
		}
	}
	return out, nil
}

// Down removes what DownPlan listed, in order, skipping what must be
// kept. It stops at the first failure: what is left is listed again by the
// next DownPlan.
func Down(ctx context.Context, removals []Removal, out io.Writer) error {
	for _, r := range removals {
		if r.Keep != "" {
			fmt.Fprintf(out, "kept %s: %s\n", r.What, r.Keep)
			continue
		}
		if r.remove == nil {
			return fmt.Errorf("down: %s: %w", r.What, ErrNotFromDownPlan)
		}
		if err := r.remove(ctx, out); err != nil {
			if r.Backup {
				return fmt.Errorf("down: nothing was removed: %w", err)
			}
			return fmt.Errorf("down: %s: %w", r.What, err)
		}
	}
	return nil
}

// downBackup is the entry of DownPlanWith that backs the cluster up
// before the control planes cps are removed.
func downBackup(inv *inventory.Inventory, c Clients, cps []string, now func() time.Time) Removal {
	what := "backup of the cluster before the removal of " + strings.Join(cps, ", ") + ": "
	if dir := inv.Kubernetes.BackupDir; dir != "" {
		what += "into a new " + inv.Kubernetes.Endpoint + "-<UTC time> directory under " + dir + " (none if no control plane answers)"
	} else {
		what += "kubernetes.backup_dir is not set, so down stops here if a control plane answers (set it, or --no-backup)"
	}
	return Removal{Phase: "kubernetes", What: what, Backup: true,
		remove: func(ctx context.Context, w io.Writer) error { return backupFirst(ctx, inv, c, "down", now, w) }}
}

// forgetHostKeys forgets the SSH host keys of a guest Down removed: the
// next guest at its address is another machine.
func (c Clients) forgetHostKeys(inv *inventory.Inventory, guest string, w io.Writer) error {
	if c.hostKeys == nil {
		return nil
	}
	if _, ok := inv.Guest(guest); !ok {
		return nil
	}
	if err := c.hostKeys.Forget(guest); err != nil {
		return fmt.Errorf("forget the host keys of %s: %w", guest, err)
	}
	fmt.Fprintf(w, "forgot the SSH host keys of %s\n", guest)
	return nil
}

// downKubeconfig is the removal of the admin kubeconfig when Down removes
// every control plane (names): the cluster's etcd goes with their disks,
// and the next `up` makes a new cluster, whose kubeconfig the old file
// would block (a kubeconfig of another cluster is never overwritten). Only
// a file that is the kubeconfig step's (the cluster's CA, the server
// https://<endpoint>:6443) is removed; another file there is kept.
func downKubeconfig(inv *inventory.Inventory, c Clients, names map[string]bool) (Removal, bool) {
	k := inv.Kubernetes
	cps := inv.ControlPlanes()
	if k == nil || len(cps) == 0 {
		return Removal{}, false
	}
	for _, g := range cps {
		if !names[g.Name] {
			return Removal{}, false
		}
	}
	path := c.Kubeconfig
	if path == "" {
		path = k.Kubeconfig
	}
	path = inventory.ExpandHome(path)
	if path == "" {
		return Removal{}, false
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Removal{}, false
	}
	r := Removal{Phase: "kubernetes", What: "admin kubeconfig " + path}
	switch {
	case err != nil:
		r.Keep = fmt.Sprintf("cannot read it: %v", err)
	case !kubeadm.IsAdminKubeconfig(b, k.Endpoint):
		r.Keep = "not the admin kubeconfig homelab writes for https://" + k.Endpoint + ":6443"
	default:
		r.remove = func(_ context.Context, w io.Writer) error {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove the admin kubeconfig: %w", err)
			}
			fmt.Fprintf(w, "removed the admin kubeconfig %s: its cluster went with every control plane\n", path)
			return nil
		}
	}
	return r, true
}
