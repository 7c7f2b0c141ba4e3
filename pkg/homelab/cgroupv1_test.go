package homelab_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/simlab"
)

// On cgroup v1 nodes (the end-to-end lab's hosts) at 1.37, kubeadm 1.35+
// demands failCgroupV1: false and its SystemVerification check skipped:
// kubelet.fail_cgroup_v1: false gives both, so every node inits or joins
// and the cluster comes up healthy.
func TestKubernetesOnCgroupV1(t *testing.T) {
	inv := loadInventory(t, "testdata/ha.yaml")
	inv.Kubernetes.Version = "1.37.2"
	no := false
	inv.Kubernetes.Kubelet.FailCgroupV1 = &no
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05, CgroupV1: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	var log runLog
	if _, _, err := Up(context.Background(), inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event)}); err != nil {
		t.Fatalf("up: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	healthy(t, lab)
	for _, n := range []string{"master-1", "worker-1"} {
		h, _ := lab.Hosts.Host(n)
		if _, err := os.Stat(h.Root() + "/sys/fs/cgroup/cgroup.controllers"); !os.IsNotExist(err) {
			t.Errorf("%s runs cgroup v2 (%v), want v1", n, err)
		}
	}
}
