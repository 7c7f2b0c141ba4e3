package kube_test

import (
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/sim/kube"
)

const restoreCmd = "ctr -n k8s.io run --rm --mount type=bind,src=/var/lib,dst=/var/lib,options=rbind:rw --mount type=bind,src=/root,dst=/root,options=rbind:rw " +
	"registry.k8s.io/etcd:3.5.15-0 restore etcdutl snapshot restore /root/snap.db --data-dir /var/lib/etcd --name master-1 " +
	"--initial-cluster master-1=https://10.0.0.21:2380 --initial-advertise-peer-urls https://10.0.0.21:2380"

// The disaster-recovery cycle as the real tools run it: etcdctl saves a
// snapshot in the etcd pod (only paths the pod mounts from the host reach
// the host), every machine goes, etcdutl restores the snapshot into an
// empty data directory (refusing a full one and a corrupt file), kubeadm
// init reuses the CA left in /etc/kubernetes/pki and starts etcd on the
// restored data (after its data-directory check is ignored): the old
// objects and the old CA are back, with one etcd member.
func TestSnapshotRestoreKeepsObjectsAndCA(t *testing.T) {
	l, m := wipeLab(t)
	l.must("master-1", kubectl+"create configmap drill --from-literal=answer=42")
	if got := l.must("master-2", kubectl+"get configmap drill -o jsonpath='{.data.answer}'"); got != "42" {
		t.Fatalf("configmap: %q", got)
	}
	l.fails("master-1", kubectl+"create configmap drill", 1, `configmaps "drill" already exists`)

	// Outside the pod's mounts the snapshot stays in the container.
	out := l.must("master-2", kubectl+"-n kube-system exec etcd-master-2"+etcdctl+"snapshot save /tmp/snap.db")
	if out != "Snapshot saved at /tmp/snap.db\n" {
		t.Errorf("snapshot save: %q", out)
	}
	l.fails("master-2", "test -f /tmp/snap.db", 1, "")
	l.fails("master-2", kubectl+"-n kube-system exec etcd-master-2"+etcdctl+"snapshot save /var/lib/etcd/nodir/snap.db", 1,
		"Error: could not open /var/lib/etcd/nodir/snap.db.part (open /var/lib/etcd/nodir/snap.db.part: no such file or directory)")
	l.must("master-2", kubectl+"-n kube-system exec etcd-master-2"+etcdctl+"snapshot save /var/lib/etcd/snap.db")
	snap := l.must("master-2", "cat /var/lib/etcd/snap.db")
	var pki = map[string]string{}
	for _, f := range []string{"ca.crt", "ca.key", "etcd/ca.crt", "etcd/ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.key", "sa.pub"} {
		pki[f] = l.must("master-1", "cat /etc/kubernetes/pki/"+f)
	}
	before, _ := l.sim.Cluster()

	for _, n := range []string{"master-1", "master-2", "master-3", "worker-1"} {
		l.recreate(m, n)
	}
	if _, ok := l.sim.Cluster(); ok {
		t.Fatal("the cluster outlived its machines")
	}
	l.prepare("master-1")
	l.pin("master-1", addrs["master-1"])
	l.put("master-1", "/root/snap.db", snap)
	for f, c := range pki {
		l.put("master-1", "/etc/kubernetes/pki/"+f, c)
	}
	l.fails("master-1", restoreCmd, 1, `ctr: image "registry.k8s.io/etcd:3.5.15-0": not found`)
	l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfig("master-1"))
	if got := l.must("master-1", "kubeadm config images list --config /etc/kubernetes/homelab/init.yaml"); !strings.Contains(got, "registry.k8s.io/etcd:3.5.15-0\n") {
		t.Errorf("images list:\n%s", got)
	}
	l.must("master-1", "kubeadm config images pull --config /etc/kubernetes/homelab/init.yaml")

	// A corrupt snapshot, a foreign member name, a full data directory.
	l.put("master-1", "/root/bad.db", strings.Replace(snap, "drill", "drilx", 1))
	l.fails("master-1", strings.Replace(restoreCmd, "/root/snap.db", "/root/bad.db", 1), 1, "Error: expected sha256 [")
	l.fails("master-1", strings.Replace(restoreCmd, "--name master-1", "--name master-9", 1), 1,
		`Error: couldn't find local name "master-9" in the initial cluster configuration`)
	l.put("master-1", "/var/lib/etcd/leftover", "x")
	l.fails("master-1", restoreCmd, 1, `Error: data-dir "/var/lib/etcd" not empty or could not be read`)
	l.must("master-1", "rm -f /var/lib/etcd/leftover")
	l.must("master-1", restoreCmd)

	// kubeadm's own check refuses the restored data directory unless told.
	l.fails("master-1", initCmd, 1, "[ERROR DirAvailable--var-lib-etcd]: /var/lib/etcd is not empty")
	out = l.must("master-1", initCmd+" --ignore-preflight-errors=DirAvailable--var-lib-etcd")
	for _, want := range []string{"[certs] Using existing ca certificate authority", "[certs] Using existing etcd/ca certificate authority", `[certs] Using the existing "sa" key`} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %q:\n%s", want, out)
		}
	}
	after, ok := l.sim.Cluster()
	if !ok {
		t.Fatal("no cluster after the restore")
	}
	if string(after.CA) != string(before.CA) {
		t.Error("the restored cluster has a new CA")
	}
	if got := l.must("master-1", "cat /etc/kubernetes/pki/sa.key"); got != pki["sa.key"] {
		t.Error("kubeadm init replaced the service-account key")
	}
	if got := l.must("master-1", kubectl+"get configmap drill -o jsonpath='{.data.answer}'"); got != "42" {
		t.Errorf("restored configmap: %q", got)
	}
	ms := l.members("master-1")
	if len(ms) != 1 || ms[0].Name != "master-1" || ms[0].PeerURLs[0] != "https://10.0.0.21:2380" {
		t.Errorf("members after the restore: %+v", ms)
	}
}

// After a restore the old Nodes are back with the status etcd held, Ready,
// though no kubelet runs for them: the restored cluster's node lifecycle
// controller marks them NotReady only node-monitor-grace-period after it
// starts. Until then kubeadm join refuses a new machine of such a name
// with its own words; once the stale Node is deleted the machine joins.
// A Node nobody deletes turns NotReady when the grace period is over.
func TestRestoredNodesSayReadyUntilTheGracePeriod(t *testing.T) {
	l, m := wipeLab(t)
	l.must("master-2", kubectl+"-n kube-system exec etcd-master-2"+etcdctl+"snapshot save /var/lib/etcd/snap.db")
	snap := l.must("master-2", "cat /var/lib/etcd/snap.db")
	pki := map[string]string{}
	for _, f := range []string{"ca.crt", "ca.key", "etcd/ca.crt", "etcd/ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.key", "sa.pub"} {
		pki[f] = l.must("master-1", "cat /etc/kubernetes/pki/"+f)
	}
	for _, n := range []string{"master-1", "master-2", "master-3", "worker-1"} {
		l.recreate(m, n)
	}
	l.prepare("master-1")
	l.pin("master-1", addrs["master-1"])
	l.put("master-1", "/root/snap.db", snap)
	for f, c := range pki {
		l.put("master-1", "/etc/kubernetes/pki/"+f, c)
	}
	l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfig("master-1"))
	l.must("master-1", "kubeadm config images pull --config /etc/kubernetes/homelab/init.yaml")
	l.must("master-1", restoreCmd)
	l.must("master-1", initCmd+" --ignore-preflight-errors=DirAvailable--var-lib-etcd")

	for _, n := range []string{"master-2", "master-3", "worker-1"} {
		if got, ok := node(t, l.sim, n); !ok || !got.Ready || !got.Lost {
			t.Errorf("%s right after the restore: %+v (found %t), want the Ready its snapshot recorded", n, got, ok)
		}
	}
	if out := l.must("master-1", kubectl+"get node worker-1 --no-headers"); !strings.Contains(out, "worker-1   Ready") {
		t.Errorf("kubectl get node worker-1 right after the restore: %q", out)
	}
	l.prepare("master-2")
	l.pin("master-2", addrs["master-1"])
	l.put("master-2", "/etc/kubernetes/homelab/join.yaml", joinConfig("master-2", token, l.caPin(), certKey, true))
	l.fails("master-2", joinCmd, 1, `error execution phase kubelet-start: a Node with name "master-2" and status "Ready" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node`)
	if out := l.must("master-1", kubectl+"delete node master-2"); out != "node \"master-2\" deleted\n" {
		t.Errorf("delete node: %q", out)
	}
	l.must("master-2", "kubeadm reset -f")
	l.put("master-2", "/etc/kubernetes/homelab/join.yaml", joinConfig("master-2", token, l.caPin(), certKey, true))
	l.must("master-2", joinCmd)
	if ms := l.members("master-1"); len(ms) != 2 {
		t.Errorf("members after master-2 joined the restored cluster: %+v", ms)
	}

	l.sim.Advance(kube.NodeMonitorGracePeriod)
	for _, n := range []string{"master-3", "worker-1"} {
		if got, _ := node(t, l.sim, n); got.Ready {
			t.Errorf("%s after the grace period: %+v, want NotReady", n, got)
		}
	}
	if out := l.must("master-1", kubectl+"get node worker-1 --no-headers"); !strings.Contains(out, "NotReady") {
		t.Errorf("kubectl get node worker-1 after the grace period: %q", out)
	}
	if got, _ := node(t, l.sim, "master-2"); !got.Ready {
		t.Errorf("master-2, joined again: %+v", got)
	}
}
