package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/internal/lab"
	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// drillEnv is what the disaster-recovery drill shares with TestE2E: the
// lab and its cluster as the runs before it left them.
type drillEnv struct {
	l       *lab.Lab
	inv     *inventory.Inventory
	file    *plan.File
	clients homelab.Clients
	opts    homelab.RunOptions
	clock   *stepClock
	dir     string
	version string
	kubectl func(host, args string) (string, error)
	phase   func(name string, since time.Time)
}

// lostControlPlane is what a control plane loses when its guest is
// destroyed and created again from the same template, with its packages
// and images kept (see drill): the kubelet stops, every container of the
// pods goes, and so do kubeadm's and the kubelet's files, etcd's data, the
// CNI's configuration and state and homelab's /etc/hosts block. No
// `kubeadm reset`: a lost machine leaves no etcd member gracefully. The
// containers are killed one by one (`ctr tasks kill` without --all, as
// the CRI stops them): `ctr tasks rm -f` (a kill with --all, then a
// wait) hung on the lab's hosts with the pod's pause process still alive.
const lostControlPlane = `systemctl stop kubelet
tasks() { ctr -n k8s.io tasks ls -q; }
running() { ctr -n k8s.io tasks ls | awk 'NR > 1 && $3 != "STOPPED"' | wc -l; }
for t in $(tasks); do timeout 30 ctr -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
for i in $(seq 60); do [ "$(running)" = 0 ] && break; sleep 0.5; done
if [ "$(running)" != 0 ]; then ctr -n k8s.io tasks ls; echo "tasks still running after SIGKILL"; exit 1; fi
for t in $(tasks); do timeout 30 ctr -n k8s.io tasks rm "$t" >/dev/null; done
for c in $(ctr -n k8s.io containers ls -q); do timeout 30 ctr -n k8s.io containers rm "$c" >/dev/null; done
systemctl restart containerd
awk '$2 ~ "^/var/lib/kubelet/" {print $2}' /proc/mounts | sort -r | xargs -r umount -l
for n in $(ip netns list | awk '/^cni-/ {print $1}'); do ip netns delete "$n"; done
ip link del cni0 2>/dev/null || true
rm -rf /etc/kubernetes /var/lib/kubelet/* /var/lib/etcd/* /etc/cni/net.d/* /var/lib/cni /var/lib/homelab-restore /root/.kube
sed -i '/^# BEGIN homelab: Kubernetes endpoint$/,/^# END homelab: Kubernetes endpoint$/d' /etc/hosts
left=$(ctr -n k8s.io containers ls -q | wc -l)
if [ "$left" != 0 ]; then echo "$left containers left"; exit 1; fi`

// drill is the disaster-recovery drill of docs/dr-runbook.md on the real
// cluster: a ConfigMap, a backup through homelab's library (what `homelab
// backup` runs), every control plane lost, a plan and a run with the
// backup. The ConfigMap is back, the cluster CA is byte-identical, the
// kubeconfig homelab wrote before the loss works through the endpoint,
// etcd has 3 started voting members and every node is Ready; the workers
// and load balancers were never touched.
//
// What the lost control planes keep: the Kubernetes and containerd
// packages and the imported images, as a guest template with them baked
// in would. Installing them again is node preparation, which the first
// runs covered (it takes about 3.5 minutes of the machine's two cores);
// what a restore adds is what they lose.
func drill(t testing.TB, ctx context.Context, e drillEnv) {
	s := time.Now()
	if out, err := e.kubectl("cp-1", "create configmap drill --from-literal=answer=42"); err != nil {
		t.Fatalf("create the drill's ConfigMap: %v\n%s", err, out)
	}
	ca, err := execIn(ctx, e.l, "cp-1", "cat /etc/kubernetes/pki/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	oldConf, err := os.ReadFile(e.clients.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	e.phase("drill: a ConfigMap", s)

	s = time.Now()
	b, err := homelab.Backup(ctx, e.inv, homelab.BackupOptions{Clients: e.clients, Dir: filepath.Join(e.dir, "backup")})
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, diagnose(e.l))
	}
	checkBackupFiles(t, b)
	if fp, _ := backup.Fingerprint([]byte(ca)); b.Manifest.Identity.CAFingerprint != fp {
		t.Errorf("the backup's CA fingerprint %s, the cluster's %s", b.Manifest.Identity.CAFingerprint, fp)
	}
	snap, _ := b.File(backup.Snapshot)
	e.phase(fmt.Sprintf("drill: backup from %s (snapshot %d KiB)", b.Manifest.From, len(snap)>>10), s)

	s = time.Now()
	parallel(t, controlPlanes, func(n string) error {
		if out, err := execIn(ctx, e.l, n, lostControlPlane); err != nil {
			return fmt.Errorf("%s: lose the control plane: %v\n%s", n, err, out)
		}
		return nil
	})
	e.phase("drill: every control plane lost", s)

	s = time.Now()
	restore, err := homelab.OpenBackup(e.inv, b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := homelab.Plan(ctx, e.inv, e.file, homelab.PlanOptions{Clients: e.clients, Restore: restore})
	if err != nil {
		t.Fatalf("plan with the backup: %v\n%s", err, diagnose(e.l))
	}
	var text bytes.Buffer
	plan.RenderText(&text, p, plan.TextOptions{})
	initStep, ok := p.Step("kube/init/cp-1")
	if !ok || initStep.Change.Action != step.Create || !strings.Contains(initStep.Description, "restoring the backup of cluster kubernetes at "+endpoint) {
		t.Fatalf("the plan does not restore on cp-1:\n%s", text.String())
	}
	// Nothing of the workers and load balancers changes, except that a
	// worker's bridge conflist is planned as on a new cluster: it follows
	// the Node's pod CIDR, which no control plane can tell yet.
	for _, n := range slices.Concat(loadBalancers, workers) {
		for _, st := range p.Steps {
			if strings.HasPrefix(string(st.ID), "kube/cni/bridge/") {
				continue
			}
			if strings.HasSuffix(string(st.ID), "/"+n) && st.Change.Action != step.None && st.Change.Action != step.Run {
				t.Errorf("the restore plan changes %s, which was not lost: %s %s", n, st.ID, st.Change.Action.Name())
			}
		}
	}
	e.phase(fmt.Sprintf("drill: plan with the backup (%+v)", p.Summary()), s)

	e.clock.reset()
	s = time.Now()
	if _, err := homelab.Run(ctx, p, e.opts); err != nil {
		t.Fatalf("the restore run: %v\n%s", err, diagnose(e.l))
	}
	e.phase("drill: the restore run", s)
	for _, line := range e.clock.lines() {
		if strings.Contains(line, "deleting its Node") || strings.Contains(line, "restoring the backup") || strings.Contains(line, "etcd data restored") {
			t.Log(line)
		}
	}

	s = time.Now()
	if got, err := e.kubectl("cp-3", "get configmap drill -o jsonpath='{.data.answer}'"); err != nil || got != "42" {
		t.Errorf("the ConfigMap after the restore: %q %v", got, err)
	}
	for _, n := range controlPlanes {
		if now, err := execIn(ctx, e.l, n, "cat /etc/kubernetes/pki/ca.crt"); err != nil || now != ca {
			t.Errorf("%s: the cluster CA after the restore is not the one before: %v", n, err)
		}
	}
	// The kubeconfig homelab wrote before the loss, from a worker through
	// the endpoint name (the VIP).
	if out, err := execIn(ctx, e.l, "w-2", "cat > /root/old.kubeconfig <<'EOF'\n"+string(oldConf)+"EOF\nchmod 600 /root/old.kubeconfig\n"+
		"kubectl --kubeconfig /root/old.kubeconfig get configmap drill -o jsonpath='{.data.answer}'"); err != nil || out != "42" {
		t.Errorf("the kubeconfig of before the loss: %q %v", out, err)
	}
	checkEtcd(t, ctx, e.kubectl)
	e.phase("drill: checks after the restore", s)

	// The pods of the lost control planes (CoreDNS's among them) come back
	// as the new kubelets and the controllers get to them: how long that
	// takes after the run is part of the restore's time.
	s = time.Now()
	const ready = "-n kube-system get daemonset kube-proxy -o jsonpath='{.status.numberReady}'; echo -n ' '; " +
		"kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get deployment coredns -o jsonpath='{.status.readyReplicas}'"
	var out string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if out, err = e.kubectl("cp-1", ready); err == nil && strings.TrimSpace(out) == "5 2" {
			break
		}
	}
	checkNodes(t, ctx, e.kubectl, e.version)
	e.phase(fmt.Sprintf("drill: kube-proxy and CoreDNS ready (%q)", out), s)

	s = time.Now()
	p2, err := homelab.Plan(ctx, e.inv, e.file, homelab.PlanOptions{Clients: e.clients})
	if err != nil {
		t.Fatalf("plan after the restore: %v", err)
	}
	for _, st := range p2.Steps {
		if a := st.Change.Action; a != step.None && a != step.Run {
			t.Errorf("plan after the restore: %s would %s: %+v", st.ID, a.Name(), st.Change)
		}
	}
	e.phase(fmt.Sprintf("drill: plan after the restore (%+v)", p2.Summary()), s)
}

// checkBackupFiles: the backup is a 0700 directory of 0600 files, the
// PKI, the snapshot, kubeadm's ClusterConfiguration and the manifest.
func checkBackupFiles(t testing.TB, b *backup.Backup) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(b.Dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && fi.Mode().Perm() != 0o700, !d.IsDir() && fi.Mode().Perm() != 0o600:
			t.Errorf("backup %s: mode %v", p, fi.Mode())
		case !d.IsDir():
			files++
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if want := len(backup.PKIFiles) + 3; files != want {
		t.Errorf("%d files in the backup, want %d", files, want)
	}
}
