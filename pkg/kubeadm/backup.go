package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
)

// snapshotPath is where a backup's etcd snapshot is saved on the control
// plane, under the etcd Pod's data volume (a hostPath mount: a file saved
// elsewhere stays in the container). It is removed once read.
const snapshotPath = "/var/lib/etcd/homelab-backup.db"

// DefaultClusterName is kubeadm's clusterName when the configuration sets
// none (homelab's does not).
const DefaultClusterName = "kubernetes"

// TakeBackup takes a backup of inv's cluster from the first control plane
// (in the inventory's order) that answers: initialised, with its own
// apiserver answering /readyz (as manager asks). It holds an etcd snapshot
// saved by that control plane's etcd member, the cluster PKI
// (backup.PKIFiles) from its disk and kubeadm's ClusterConfiguration.
// Nothing of what it reads is printed or logged; the commands run without
// an output writer. A control plane that answers but whose backup fails
// is passed over for the next. When none answers (the cluster is gone, or
// was never made) the error wraps ErrNoControlPlane and says what each
// said; when some answered but none gave a backup, it does not.
func TakeBackup(ctx context.Context, inv *inventory.Inventory, dial HostDialer, now time.Time) (*backup.Backup, error) {
	if inv.Kubernetes == nil {
		return nil, errors.New("the inventory has no kubernetes section: there is no cluster to back up")
	}
	var tried []string
	answered := false
	for _, m := range inv.ControlPlanes() {
		h, err := dial(m.Name)
		if err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		out, err := run(pctx, h, command{script: probeScript(m), timeout: probeTimeout})
		cancel()
		switch got := strings.TrimSpace(out); {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil && remote.NotAnswering(ctx, err):
			tried = append(tried, m.Name+": does not answer SSH")
			continue
		case err != nil && !exited(err):
			// It answers, but homelab cannot work there (a login
			// refused, a host key that changed): not a cluster gone.
			answered = true
			tried = append(tried, fmt.Sprintf("%s: %v", m.Name, err))
			continue
		case got == "not-initialised":
			tried = append(tried, m.Name+": not initialised")
			continue
		case got != "ok":
			tried = append(tried, fmt.Sprintf("%s: %s answered %q", m.Name, apiserverURL(m.IP), got))
			continue
		}
		answered = true
		b, err := backupFrom(ctx, inv, h, m, now)
		if err == nil {
			return b, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		tried = append(tried, fmt.Sprintf("%s: %v", m.Name, err))
	}
	if !answered {
		return nil, fmt.Errorf("%w: %s", ErrNoControlPlane, strings.Join(tried, "; "))
	}
	return nil, fmt.Errorf("no control plane could give a backup: %s", strings.Join(tried, "; "))
}

// backupFrom takes the backup through control plane m.
func backupFrom(ctx context.Context, inv *inventory.Inventory, h remote.Host, m *inventory.Guest, now time.Time) (*backup.Backup, error) {
	s, err := readNodeState(ctx, h)
	if err != nil {
		return nil, err
	}
	if !s.initialised() {
		return nil, errors.New("not a control plane of the cluster (no admin.conf and apiserver manifest)")
	}
	defer run(context.WithoutCancel(ctx), h, command{script: "rm -f " + snapshotPath})
	if _, err := run(ctx, h, command{script: etcdctl(m, "snapshot save "+snapshotPath), timeout: 5 * time.Minute}); err != nil {
		return nil, fmt.Errorf("etcd snapshot: %w", err)
	}
	files := map[string][]byte{}
	snap, err := readRoot(ctx, h, snapshotPath)
	if err != nil {
		return nil, fmt.Errorf("read the etcd snapshot: %w", err)
	}
	files[backup.Snapshot] = snap
	for _, p := range backup.PKIFiles {
		c, err := readRoot(ctx, h, pkiDir+"/"+p)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", pkiDir, p, err)
		}
		files["pki/"+p] = c
	}
	cc, err := run(ctx, h, command{script: kubectl(m, "-n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}'")})
	if err != nil {
		return nil, fmt.Errorf("kubeadm's ClusterConfiguration: %w", err)
	}
	files[backup.ClusterConfiguration] = []byte(cc)
	fp, err := backup.Fingerprint(files[backup.CACert])
	if err != nil {
		return nil, fmt.Errorf("%s/ca.crt: %w", pkiDir, err)
	}
	return backup.New(backup.Manifest{
		Identity:          backup.Identity{Inventory: inv.Name, ClusterName: clusterName(cc), Endpoint: inv.Kubernetes.Endpoint, CAFingerprint: fp},
		KubernetesVersion: inv.Kubernetes.Version, Taken: now.UTC(), From: m.Name,
	}, files), nil
}

// pkiDir is kubeadm's certificate directory.
const pkiDir = "/etc/kubernetes/pki"

// readRoot reads a root-only file through the shell (sudo for a non-root
// login), its bytes as they are.
func readRoot(ctx context.Context, h remote.Host, path string) ([]byte, error) {
	res, err := h.Run(ctx, remote.Command{Script: "cat " + remote.Quote(path), Timeout: 5 * time.Minute})
	if err != nil {
		return nil, err
	}
	return res.Stdout, nil
}

// clusterName reads clusterName from a ClusterConfiguration; kubeadm's
// default when it has none.
func clusterName(cc string) string {
	for _, l := range strings.Split(cc, "\n") {
		if v, ok := strings.CutPrefix(l, "clusterName:"); ok {
			if v = strings.Trim(strings.TrimSpace(v), `"'`); v != "" {
				return v
			}
		}
	}
	return DefaultClusterName
}

// Identity is the identity a backup of inv's cluster must carry.
func Identity(inv *inventory.Inventory) backup.Identity {
	id := backup.Identity{Inventory: inv.Name, ClusterName: DefaultClusterName}
	if inv.Kubernetes != nil {
		id.Endpoint = inv.Kubernetes.Endpoint
	}
	return id
}
