package kubeadm

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/remote"
)

// restoreSnapshot is where a restore puts the backup's etcd snapshot on
// the first control plane; it is removed once etcd runs on the data.
const restoreSnapshot = "/var/lib/homelab-restore/snapshot.db"

// restoreWhat names a backup in plans: its identity, when and where it
// was taken; never its contents.
func restoreWhat(b *backup.Backup) string {
	m := b.Manifest
	return fmt.Sprintf("the backup of %s taken %s from %s", m.Identity, m.Taken.UTC().Format(time.RFC3339), m.From)
}

// etcdRestoreScript restores the snapshot into the etcd data directory
// for node at ip, as etcdutl in kubeadm's own etcd image (containerd runs
// it; kubeadm's image list names its tag, and kubeadm pulls its images
// when containerd does not have it yet: an air-gapped node that imported
// the image archives needs no registry), with the member name and peer
// URL kubeadm's etcd manifest gives the node. The data directory must be
// empty: what an earlier attempt left is removed first (the node is not
// initialised, so it is nobody's data).
func etcdRestoreScript(node, ip string) string {
	peer := "https://" + ip + ":2380"
	return "rm -rf /var/lib/etcd/member" +
		" && image=$(kubeadm config images list --config " + InitConfigPath + " | grep /etcd:)" +
		` && { ctr -n k8s.io images ls -q | grep -qxF "$image" || kubeadm config images pull --config ` + InitConfigPath + " >/dev/null; }" +
		` && ctr -n k8s.io run --rm --mount type=bind,src=/var/lib,dst=/var/lib,options=rbind:rw "$image" homelab-etcd-restore` +
		" etcdutl snapshot restore " + restoreSnapshot + " --data-dir /var/lib/etcd" +
		" --name " + remote.Quote(node) + " --initial-cluster " + remote.Quote(node+"="+peer) +
		" --initial-advertise-peer-urls " + remote.Quote(peer)
}

// initFromBackup initialises master1 from the backup: the PKI written to
// /etc/kubernetes/pki first (kubeadm init reuses a CA it finds there, so
// every old kubeconfig and join hash stays valid), the snapshot restored
// into /var/lib/etcd, then kubeadm init with its empty-data-directory
// check ignored. kube-proxy's endpoint mark is cleared, since the
// restored cluster's pods are new and must be restarted after the flip
// like a new cluster's. Nothing of the backup is printed.
func (w initWork) initFromBackup(ctx context.Context, h remote.Host, out io.Writer) error {
	node := w.master.Name
	fmt.Fprintf(out, "%s: restoring %s\n", node, restoreWhat(w.restore))
	for p, c := range w.restore.PKI() {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".key") {
			mode = 0o600
		}
		if _, err := h.Sync(ctx, remote.File{Path: pkiDir + "/" + p, Content: c, Mode: mode, Owner: "root", Group: "root"}); err != nil {
			return fmt.Errorf("%s: write %s/%s from the backup: %w", node, pkiDir, p, err)
		}
	}
	snap, _ := w.restore.File(backup.Snapshot)
	if _, err := h.Sync(ctx, remote.File{Path: restoreSnapshot, Content: snap, Mode: 0o600, Owner: "root", Group: "root"}); err != nil {
		return fmt.Errorf("%s: copy the etcd snapshot: %w", node, err)
	}
	defer run(context.WithoutCancel(ctx), h, command{script: "rm -f " + restoreSnapshot})
	file, err := InitConfig(w.inv, w.master, w.creds.current())
	if err != nil {
		return err
	}
	err = withSecretFile(ctx, h, InitConfigPath, file, func() error {
		if _, err := run(ctx, h, command{script: etcdRestoreScript(node, w.master.IP.String()), secrets: w.creds.secrets(), timeout: w.timeouts.Command}); err != nil {
			return fmt.Errorf("restore the etcd snapshot: %w", err)
		}
		fmt.Fprintf(out, "%s: etcd data restored into /var/lib/etcd for member %s\n", node, node)
		_, err := run(ctx, h, command{script: "kubeadm init --config " + InitConfigPath + " --upload-certs --ignore-preflight-errors=DirAvailable--var-lib-etcd",
			secrets: w.creds.secrets(), timeout: w.timeouts.Command, out: out})
		if err != nil {
			return fmt.Errorf("kubeadm init: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", node, err)
	}
	w.creds.tokenCreated()
	w.creds.certsUploaded()
	if _, err := run(ctx, h, command{script: kubectl(w.master, "-n kube-system annotate daemonset kube-proxy "+endpointAnnotation+"-"), out: out}); err != nil {
		return fmt.Errorf("%s: clear kube-proxy's endpoint mark: %w", node, err)
	}
	return w.readCAHash(ctx, h)
}
