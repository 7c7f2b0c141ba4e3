package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/pkg/homelab"
)

func newBackupCommand(g *globals) *cobra.Command {
	var (
		t   target
		dir string
	)
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Back up the Kubernetes cluster: etcd snapshot, PKI, kubeadm configuration",
		Long: `backup takes a backup of the cluster over SSH, from the first control plane
that answers: an etcd snapshot saved by its etcd member, the cluster PKI (the
cluster CA, the front-proxy CA, the etcd CA and the service-account keys) and
kubeadm's ClusterConfiguration. It writes them into a new directory (mode
0700, files 0600) with a manifest.json that lists each file's SHA-256 and the
cluster's identity (endpoint, cluster name, the CA's fingerprint).

The directory is --dir, or a new <endpoint>-<UTC time> directory under the
inventory's kubernetes.backup_dir. The backup holds the cluster's private
keys: keep it off-site and private. "homelab up --restore DIR" restores it.`,
		Example: `  homelab backup -i inventories/rachuna-net.yaml
  homelab backup -i inventories/rachuna-net.yaml --dir /srv/backups/k8s-2026-12-06
  homelab backup -i inventories/rachuna-net.yaml --simulate --dir /tmp/drill`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, clients, closeLab, err := g.openLab(cmd.Context(), "backup", t)
			if err != nil {
				return err
			}
			defer closeLab()
			b, err := homelab.Backup(cmd.Context(), inv, homelab.BackupOptions{Clients: clients, Dir: dir})
			if err != nil {
				return err
			}
			m := b.Manifest
			fmt.Fprintf(g.stdout, "Backup of %s written to %s (%d files, taken from %s).\n", m.Identity, b.Dir, len(m.Files), m.From)
			fmt.Fprintf(g.stdout, "It holds the cluster's private keys: keep it private and off-site. Restore: homelab up -i %s --restore %s\n", g.inventory, b.Dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "write the backup into this new (or empty) directory instead of a new one under kubernetes.backup_dir")
	cmd.Flags().BoolVar(&t.simulate, "simulate", false, "back up the simulated lab's cluster (see up --help)")
	return cmd
}
