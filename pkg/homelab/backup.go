package homelab

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeadm"
)

// BackupOptions tune Backup.
type BackupOptions struct {
	// Clients reach the control planes (Hosts).
	Clients Clients
	// Dir is the directory the backup is written into (new or empty).
	// Empty: a new directory <endpoint>-<UTC time> under the inventory's
	// kubernetes.backup_dir.
	Dir string
	// Now is the backup's time; nil is time.Now.
	Now func() time.Time
}

// Backup takes a backup of the inventory's cluster (kubeadm.TakeBackup:
// an etcd snapshot from a healthy member, the cluster PKI, kubeadm's
// ClusterConfiguration) over SSH and writes it, with its manifest, into a
// 0700 directory of 0600 files. It returns the backup (its Dir set);
// nothing of its contents is printed or logged.
func Backup(ctx context.Context, inv *inventory.Inventory, opts BackupOptions) (*backup.Backup, error) {
	if inv.Kubernetes == nil {
		return nil, errors.New("backup: the inventory has no kubernetes section")
	}
	if opts.Clients.Hosts == nil {
		return nil, errors.New("backup: no way to reach the control planes (SSH)")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	t := now()
	dir := opts.Dir
	if dir == "" {
		parent := inv.Kubernetes.BackupDir
		if parent == "" {
			return nil, errors.New("backup: no backup directory: pass --dir DIR or set kubernetes.backup_dir in the inventory")
		}
		dir = filepath.Join(inventory.ExpandHome(parent), inv.Kubernetes.Endpoint+"-"+t.UTC().Format("20060102T150405Z"))
	}
	b, err := kubeadm.TakeBackup(ctx, inv, kubeadm.HostDialer(opts.Clients.Hosts), t)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := b.Write(dir); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return b, nil
}

// OpenBackup opens the backup in dir for a restore of inv's cluster and
// checks it before anything is changed: every file against its SHA-256
// (a *backup.CorruptError otherwise) and its identity against the
// inventory's endpoint and cluster name (a *backup.ForeignError).
func OpenBackup(inv *inventory.Inventory, dir string) (*backup.Backup, error) {
	if inv.Kubernetes == nil {
		return nil, errors.New("restore: the inventory has no kubernetes section")
	}
	b, err := backup.Open(inventory.ExpandHome(dir))
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := b.Check(kubeadm.Identity(inv)); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return b, nil
}
