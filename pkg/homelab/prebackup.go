package homelab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeadm"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// BackupDirError refuses a destructive action (down, a replace of a
// control plane) on a cluster that answers when the inventory names no
// directory for the backup homelab takes first. Nothing was removed.
type BackupDirError struct {
	// Action is what was refused ("down", "the replace of master-1").
	Action string
}

func (e *BackupDirError) Error() string {
	return fmt.Sprintf("refused before anything is destroyed: %s destroys a control plane of a cluster that answers, and homelab backs the cluster up first, "+
		"but kubernetes.backup_dir is not set: set it in the inventory, or pass --no-backup (NoBackup) to go on without a backup", e.Action)
}

// backupDirIn is the new directory of a backup taken at t under parent
// (kubernetes.backup_dir): <endpoint>-<UTC time>.
func backupDirIn(inv *inventory.Inventory, parent string, t time.Time) string {
	return filepath.Join(inventory.ExpandHome(parent), inv.Kubernetes.Endpoint+"-"+t.UTC().Format("20060102T150405Z"))
}

// backupFirst takes the backup a destructive action takes first: what
// Backup takes (kubeadm.TakeBackup), written into a new directory under
// kubernetes.backup_dir, and says on out where, never what it holds.
// When no control plane answers there is no cluster to back up: it says
// so and returns nil, so that tearing down a dead lab is not blocked. A
// backup that fails, or a cluster that answers while no backup_dir is
// set (a *BackupDirError), is an error: the action must stop.
func backupFirst(ctx context.Context, inv *inventory.Inventory, c Clients, action string, now func() time.Time, out io.Writer) error {
	if c.Hosts == nil {
		return fmt.Errorf("backup before %s: no way to reach the control planes (SSH)", action)
	}
	if now == nil {
		now = time.Now
	}
	t := now()
	b, err := kubeadm.TakeBackup(ctx, inv, kubeadm.HostDialer(c.Hosts), t)
	switch {
	case errors.Is(err, kubeadm.ErrNoControlPlane):
		fmt.Fprintf(out, "no backup before %s: there is no cluster to back up (%v)\n", action, err)
		return nil
	case err != nil:
		return fmt.Errorf("backup before %s: %w", action, err)
	case inv.Kubernetes.BackupDir == "":
		return &BackupDirError{Action: action}
	}
	dir := backupDirIn(inv, inv.Kubernetes.BackupDir, t)
	if err := b.Write(dir); err != nil {
		return fmt.Errorf("backup before %s: %w", action, err)
	}
	m := b.Manifest
	fmt.Fprintf(out, "backed up %s before %s: %d files, taken from %s, written to %s\n", m.Identity, action, len(m.Files), m.From, dir)
	return nil
}

// destroyedControlPlanes are the control planes of inv among guests.
func destroyedControlPlanes(inv *inventory.Inventory, guests func(name string) bool) []string {
	var out []string
	if inv.Kubernetes == nil {
		return nil
	}
	for _, g := range inv.ControlPlanes() {
		if guests(g.Name) {
			out = append(out, g.Name)
		}
	}
	return out
}

// planBackup notes in p the backup a run takes before it replaces
// control planes and, unless noBackup, makes the replace steps of those
// control planes take it (once, shared) before they apply.
func planBackup(inv *inventory.Inventory, p *plan.Plan, c Clients, noBackup bool) {
	replaced := func(name string) bool {
		s, ok := p.Step(step.GuestID(name))
		return ok && s.Change.Action == step.Replace
	}
	cps := destroyedControlPlanes(inv, replaced)
	if len(cps) == 0 {
		return
	}
	p.Backup = &plan.Backup{ControlPlanes: cps, Dir: inv.Kubernetes.BackupDir, OptedOut: noBackup}
	if noBackup {
		return
	}
	once := &sharedBackup{take: func(ctx context.Context, out io.Writer) error {
		return backupFirst(ctx, inv, c, "the replace of "+strings.Join(cps, ", "), nil, out)
	}}
	for _, s := range p.Graph().Steps() {
		if name, ok := strings.CutPrefix(string(s.ID), "guest/"); ok && slices.Contains(cps, name) {
			s.Work = backupFirstWork{Work: s.Work, backup: once}
		}
	}
}

// sharedBackup is a backup taken once for several steps: the first to
// ask takes it, the others wait and get its result.
type sharedBackup struct {
	mu   sync.Mutex
	done bool
	err  error
	take func(context.Context, io.Writer) error
}

func (b *sharedBackup) ensure(ctx context.Context, out io.Writer) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		if b.err != nil {
			return fmt.Errorf("the backup taken first failed: %w", b.err)
		}
		return nil
	}
	b.err = b.take(ctx, out)
	// A cancelled backup is asked for again by the next step.
	b.done = ctx.Err() == nil
	return b.err
}

// backupFirstWork is the work of a step that destroys a control plane:
// the backup first, then the step's own work.
type backupFirstWork struct {
	step.Work
	backup *sharedBackup
}

func (w backupFirstWork) Apply(ctx context.Context, c step.Change, out io.Writer) error {
	if c.Action.Deletes() {
		if err := w.backup.ensure(ctx, out); err != nil {
			return err
		}
	}
	return w.Work.Apply(ctx, c, out)
}
