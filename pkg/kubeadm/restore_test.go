package kubeadm

import (
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/backup"
)

// TestRestoreInPlan: with a backup the init step says it restores and
// which backup (identity, time, node); nothing of the backup's files is in
// the step's description, fields or files.
func TestRestoreInPlan(t *testing.T) {
	for name := range inventories {
		inv := loadInventory(t, name)
		files := map[string][]byte{backup.Snapshot: []byte("SNAPSHOT-CONTENT-xyz"), backup.ClusterConfiguration: []byte("clusterName: kubernetes\n")}
		for _, p := range backup.PKIFiles {
			files["pki/"+p] = []byte("KEY-CONTENT-" + p)
		}
		b := backup.New(backup.Manifest{Identity: backup.Identity{Inventory: inv.Name, ClusterName: "kubernetes", Endpoint: inv.Kubernetes.Endpoint, CAFingerprint: "sha256:0123456789abcdef0123456789abcdef"},
			Taken: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), From: "master-2"}, files)
		steps, err := Phase{Restore: b}.Steps(inv)
		if err != nil {
			t.Fatal(err)
		}
		m1 := inv.ControlPlanes()[0].Name
		var all strings.Builder
		for _, s := range steps {
			all.WriteString(s.Description + "\n" + s.Intent.Reason + "\n")
			for _, f := range s.Intent.Fields {
				all.WriteString(f.Name + "=" + f.Old + "->" + f.New + "\n")
			}
			for _, f := range s.Intent.Files {
				all.WriteString(f.Content + "\n")
			}
			if s.ID != initID(m1) {
				continue
			}
			want := "restoring the backup of cluster kubernetes at " + inv.Kubernetes.Endpoint + " (inventory " + inv.Name + ", CA sha256:0123456789abcdef…) taken 2026-12-06T10:00:00Z from master-2"
			if !strings.HasSuffix(s.Description, want) {
				t.Errorf("%s: init step %q", name, s.Description)
			}
			found := false
			for _, f := range s.Intent.Fields {
				found = found || (f.Name == "restore" && strings.HasPrefix(f.New, "the backup of cluster kubernetes"))
			}
			if !found {
				t.Errorf("%s: no restore field in %+v", name, s.Intent.Fields)
			}
		}
		if strings.Contains(all.String(), "CONTENT") {
			t.Errorf("%s: the plan holds backup contents", name)
		}
	}
}

func TestEtcdRestoreScript(t *testing.T) {
	got := etcdRestoreScript("master-1", "192.168.30.21")
	for _, want := range []string{
		"rm -rf /var/lib/etcd/member && image=$(kubeadm config images list --config /etc/kubernetes/homelab/init.yaml | grep /etcd:)",
		`{ ctr -n k8s.io images ls -q | grep -qxF "$image" || kubeadm config images pull --config /etc/kubernetes/homelab/init.yaml >/dev/null; }`,
		`ctr -n k8s.io run --rm --mount type=bind,src=/var/lib,dst=/var/lib,options=rbind:rw "$image" homelab-etcd-restore etcdutl snapshot restore /var/lib/homelab-restore/snapshot.db --data-dir /var/lib/etcd`,
		"--name master-1 --initial-cluster master-1=https://192.168.30.21:2380 --initial-advertise-peer-urls https://192.168.30.21:2380",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("restore script lacks %q:\n%s", want, got)
		}
	}
}

func TestClusterName(t *testing.T) {
	for in, want := range map[string]string{
		"apiVersion: kubeadm.k8s.io/v1beta4\nclusterName: prod\n": "prod",
		"clusterName: \"lab\"\n":                                  "lab",
		"kind: ClusterConfiguration\n":                            "kubernetes",
		"":                                                        "kubernetes",
	} {
		if got := clusterName(in); got != want {
			t.Errorf("clusterName(%q) = %q, want %q", in, got, want)
		}
	}
}
