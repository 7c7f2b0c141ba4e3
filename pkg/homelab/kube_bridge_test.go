package homelab_test

import (
	"context"
	"os"
	"strings"
	"testing"

	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeadm"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// cni.name bridge on the simulated lab (three control planes, two
// workers): every node gets the conflist with its own Node's pod CIDR,
// every node turns Ready without Calico, and a second plan changes
// nothing.
func TestKubernetesBridgeCNI(t *testing.T) {
	inv, lab := haLabWorkers(t, 2)
	inv.Kubernetes.CNI = inventory.CNI{Name: inventory.CNIBridge}
	log, err := upKube(t, inv, lab, "")
	if err != nil {
		t.Fatalf("up: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	healthyNodes(t, lab, 5)
	c, _ := lab.Kube.Cluster()
	if _, ok := c.DaemonSets["calico-node"]; ok {
		t.Error("calico was applied with cni.name bridge")
	}
	seen := map[string]string{}
	for _, n := range c.Nodes {
		if n.PodCIDR == "" {
			t.Errorf("node %s has no pod CIDR", n.Name)
			continue
		}
		if other, dup := seen[n.PodCIDR]; dup {
			t.Errorf("nodes %s and %s share the pod CIDR %s", other, n.Name, n.PodCIDR)
		}
		seen[n.PodCIDR] = n.Name
		h, _ := lab.Hosts.Host(n.Host)
		b, err := os.ReadFile(h.Root() + kubeadm.BridgeConfList)
		if err != nil {
			t.Errorf("%s: %v", n.Name, err)
			continue
		}
		if !strings.Contains(string(b), `"subnet": "`+n.PodCIDR+`"`) || !strings.Contains(string(b), `"homelab": "managed by homelab`) {
			t.Errorf("%s (pod CIDR %s): conflist\n%s", n.Name, n.PodCIDR, b)
		}
	}
	if log.index("kube/cni/bridge/worker-2") < 0 || log.index("kube/cni/bridge/worker-2") > log.index(kubeadm.GateNodesReady) {
		t.Errorf("kube/cni/bridge/worker-2 finished at %d, the nodes gate at %d", log.index("kube/cni/bridge/worker-2"), log.index(kubeadm.GateNodesReady))
	}
	converged(t, inv, lab, "the second plan")
}

// The kubernetes phase planned on guests that already run but hold no
// cluster yet (as the end-to-end lab's hosts, or guests built by an
// earlier run of the guests phase): the bridge CNI steps cannot read a
// pod CIDR, since no control plane answers, and plan what a new cluster
// needs instead of failing the plan. Seen on the real lab: "observe
// kube/cni/bridge/w-1: no control plane answers for the cluster".
func TestKubernetesBridgeCNIPlannedBeforeTheCluster(t *testing.T) {
	inv, lab := haLabWorkers(t, 2)
	inv.Kubernetes.CNI = inventory.CNI{Name: inventory.CNIBridge}
	ctx := context.Background()
	if _, _, err := Up(ctx, inv, infraAndLoadBalancers(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6}); err != nil {
		t.Fatalf("infrastructure and load balancers: %v", err)
	}
	file, err := plan.Open("kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(ctx, inv, file, PlanOptions{Clients: lab.Clients()})
	if err != nil {
		t.Fatalf("plan of the kubernetes phase before the cluster exists: %v", err)
	}
	for _, n := range []string{"master-1", "worker-2"} {
		st, ok := p.Step(step.ID("kube/cni/bridge/" + n))
		if !ok || st.Change.Action != step.Create {
			t.Errorf("kube/cni/bridge/%s: %+v, want a create", n, st.Change)
		}
	}
}
