package homelab_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/simlab"
	"github.com/homelabctl/homelab/pkg/step"
)

// upFull brings the full stack up on lab and fails the test on an error.
func upFull(t *testing.T, inv *inventory.Inventory, lab *simlab.Lab, what string) *runLog {
	t.Helper()
	log, err := upKube(t, inv, lab, "")
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, strings.Join(log.lines, "\n"))
	}
	return log
}

// downGuests removes the lab's guests whose names are given, as `homelab
// down` does, and nothing else; with no names it is `homelab down`:
// everything DownPlan lists.
func downGuests(t *testing.T, inv *inventory.Inventory, lab *simlab.Lab, names ...string) {
	t.Helper()
	ctx := context.Background()
	removals, err := DownPlan(ctx, inv, lab.Clients())
	if err != nil {
		t.Fatal(err)
	}
	var chosen []Removal
	for _, r := range removals {
		if len(names) == 0 {
			chosen = append(chosen, r)
			continue
		}
		if r.Phase != "guests" {
			continue
		}
		for _, n := range names {
			if strings.Contains(r.What, " "+n+" ") {
				chosen = append(chosen, r)
			}
		}
	}
	if len(names) > 0 && len(chosen) != len(names) {
		t.Fatalf("down %v: found %d guests among %v", names, len(chosen), removals)
	}
	var out strings.Builder
	if err := Down(ctx, chosen, &out); err != nil {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
}

// TestKubernetesDownThenUpBuildsANewCluster: after `down`, every guest is
// a new machine with a blank disk, so the cluster went with its control
// planes' etcd data: `up` inits a new cluster on master1 (a new CA), joins
// every node to it, writes the new cluster's kubeconfig, and a third plan
// changes nothing.
func TestKubernetesDownThenUpBuildsANewCluster(t *testing.T) {
	inv, lab := haLab(t)
	upFull(t, inv, lab, "up")
	before, _ := lab.Kube.Cluster()
	oldConf, err := os.ReadFile(lab.Clients().Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}

	// A file at the path that is not homelab's admin kubeconfig is kept.
	kc := lab.Clients().Kubeconfig
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://elsewhere.example:6443\n    certificate-authority-data: Zm9v\n  name: other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	removals, err := DownPlan(context.Background(), inv, lab.Clients())
	if err != nil {
		t.Fatal(err)
	}
	kept := false
	for _, r := range removals {
		kept = kept || (r.What == "admin kubeconfig "+kc && strings.HasPrefix(r.Keep, "not the admin kubeconfig homelab writes"))
	}
	if !kept {
		t.Errorf("a foreign kubeconfig at %s is not listed as kept: %+v", kc, removals)
	}
	if err := os.WriteFile(kc, oldConf, 0o600); err != nil {
		t.Fatal(err)
	}

	downGuests(t, inv, lab)
	if _, err := os.Stat(lab.Clients().Kubeconfig); err == nil {
		t.Error("down kept the admin kubeconfig of the cluster it took down")
	}
	log := upFull(t, inv, lab, "up after down")
	out := strings.Join(log.lines, "\n")
	if !strings.Contains(out, "kube/init/master-1: Your Kubernetes control-plane has initialized successfully!") {
		t.Errorf("kubeadm init did not run on the new master-1:\n%s", out)
	}
	after, ok := lab.Kube.Cluster()
	if !ok {
		t.Fatal("no cluster after up")
	}
	if bytes.Equal(before.CA, after.CA) || before.ID == after.ID {
		t.Errorf("the cluster after down and up is the old one (CA unchanged %t, ID %x)", bytes.Equal(before.CA, after.CA), after.ID)
	}
	for _, n := range []string{"master-2", "master-3", "worker-1"} {
		if log.index(step.ID("kube/join/"+n)) < 0 {
			t.Errorf("%s did not join the new cluster:\n%s", n, out)
		}
	}
	healthy(t, lab)
	conf, err := os.ReadFile(lab.Clients().Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(conf, oldConf) || !strings.Contains(string(conf), base64.StdEncoding.EncodeToString(after.CA)) {
		t.Errorf("the kubeconfig is not the new cluster's:\n%s", conf)
	}
	converged(t, inv, lab, "the plan after down and up")
}

// TestKubernetesRecreatedWorkerRejoins: a worker destroyed and created
// again is a new machine: its Node stays registered (NotReady) until the
// new one joins under the same name; `up` joins it again and the cluster
// ends with every node Ready and no second Node.
func TestKubernetesRecreatedWorkerRejoins(t *testing.T) {
	inv, lab := haLab(t)
	upFull(t, inv, lab, "up")
	before, _ := lab.Kube.Cluster()
	downGuests(t, inv, lab, "worker-1")
	log := upFull(t, inv, lab, "up after re-creating worker-1")
	out := strings.Join(log.lines, "\n")
	if !strings.Contains(out, "kube/join/worker-1: This node has joined the cluster:") {
		t.Errorf("worker-1 did not join again:\n%s", out)
	}
	if strings.Contains(out, "kube/init/master-1: Your Kubernetes control-plane") {
		t.Errorf("master-1 was initialised again:\n%s", out)
	}
	after, _ := lab.Kube.Cluster()
	if !bytes.Equal(before.CA, after.CA) {
		t.Error("the cluster's CA changed")
	}
	healthy(t, lab)
	converged(t, inv, lab, "after the rejoin")
}

// TestKubernetesRecreatedControlPlaneRejoins: master-2 destroyed and
// created again leaves its etcd member in the list, unreachable, and its
// Node NotReady: `up` removes the stale member and joins the new machine;
// etcd ends with three started voting members.
func TestKubernetesRecreatedControlPlaneRejoins(t *testing.T) {
	inv, lab := haLab(t)
	upFull(t, inv, lab, "up")
	downGuests(t, inv, lab, "master-2")
	log := upFull(t, inv, lab, "up after re-creating master-2")
	out := strings.Join(log.lines, "\n")
	if !strings.Contains(out, "kube/join/master-2: This node has joined the cluster and a new control plane instance was created") {
		t.Errorf("master-2 did not join again:\n%s", out)
	}
	if !strings.Contains(out, "kube/join/master-2: master-2: removing the etcd member") {
		t.Errorf("master-2's stale etcd member was not removed:\n%s", out)
	}
	healthy(t, lab)
	converged(t, inv, lab, "after the rejoin")
}

// TestKubernetesRecreatedMaster1Rejoins: master1 destroyed and created
// again while the other control planes run the cluster is a join, not a
// conflict (and while it is gone, a backup comes from master-2): no control plane is fixed, the cluster is managed through
// master-2 or master-3 meanwhile, master-1's stale etcd member is removed
// and the new machine joins as a control plane; etcd ends with three
// started voting members, the CA is the same, a second plan changes
// nothing.
func TestKubernetesRecreatedMaster1Rejoins(t *testing.T) {
	inv, lab := haLab(t)
	upFull(t, inv, lab, "up")
	before, _ := lab.Kube.Cluster()
	downGuests(t, inv, lab, "master-1")
	// With master-1 gone, a backup is taken through another control plane.
	if b := takeBackup(t, inv, lab); b.Manifest.From != "master-2" {
		t.Errorf("the backup was taken from %s", b.Manifest.From)
	}
	log := upFull(t, inv, lab, "up after re-creating master-1")
	out := strings.Join(log.lines, "\n")
	for _, want := range []string{
		"kube/init/master-1: master-1 is a new machine and master-2 runs the cluster: master-1 joins it as a control plane",
		"kube/init/master-1: master-1: removing the etcd member",
		"kube/init/master-1: This node has joined the cluster and a new control plane instance was created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Your Kubernetes control-plane has initialized successfully") {
		t.Errorf("a second cluster was initialised on master-1:\n%s", out)
	}
	after, _ := lab.Kube.Cluster()
	if !bytes.Equal(before.CA, after.CA) || before.ID != after.ID {
		t.Error("the cluster changed: a new CA or etcd cluster")
	}
	healthy(t, lab)
	converged(t, inv, lab, "after master-1 rejoined")
}

// TestKubernetesAllControlPlanesLostNeedsRestore: every control plane
// destroyed and created again while the cluster's admin kubeconfig is
// still there (not `down`: the lab was lost) is not a new, empty cluster:
// the run stops at kube/init/master-1 saying to restore with --restore;
// with the backup taken before, it restores the cluster.
func TestKubernetesAllControlPlanesLostNeedsRestore(t *testing.T) {
	inv, lab := haLab(t)
	upFull(t, inv, lab, "up")
	b := takeBackup(t, inv, lab)
	downGuests(t, inv, lab, "master-1", "master-2", "master-3")
	var log runLog
	_, _, err := Up(context.Background(), inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event)})
	if err == nil {
		t.Fatalf("up built a new cluster in place of the lost one:\n%s", strings.Join(log.lines, "\n"))
	}
	for _, want := range []string{"kube/init/master-1", "no control plane holds the cluster whose admin kubeconfig is", "homelab up --restore DIR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, ok := lab.Kube.Cluster(); ok {
		t.Error("a cluster was started")
	}
	log = runLog{}
	if _, _, err := Up(context.Background(), inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event), Restore: b.Dir}); err != nil {
		t.Fatalf("up --restore: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	healthy(t, lab)
	converged(t, inv, lab, "after the restore")
}
