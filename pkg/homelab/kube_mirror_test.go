package homelab

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/sim/kube"
)

// mirrorLab is the HA lab whose nodes get their packages from a mirror
// inside the lab, changed by edits.
func mirrorLab(t *testing.T, m *kube.Mirror, edits ...func(*inventory.Inventory)) (*inventory.Inventory, *SimulatedLab) {
	t.Helper()
	inv := loadInventory(t, "testdata/ha.yaml")
	inv.Kubernetes.Packages = inventory.Packages{Source: inventory.PackagesMirror,
		Repository: "http://" + m.Host + "/apt/", KeyURL: "http://" + m.Host + "/apt/Release.key"}
	for _, edit := range edits {
		edit(inv)
	}
	lab, err := Simulate(context.Background(), inv, SimulateOptions{VRRPScale: 0.05, KubeMirror: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	return inv, lab
}

// With packages.source: mirror every node's apt source is the mirror's
// flat repository with its key, pkgs.k8s.io is never named, the cluster
// comes up and a second plan changes nothing.
func TestKubernetesFromAMirror(t *testing.T) {
	m := &kube.Mirror{Host: "mirror.home.example"}
	inv, lab := mirrorLab(t, m)
	var log runLog
	if _, _, err := Up(context.Background(), inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event)}); err != nil {
		t.Fatalf("up: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	healthy(t, lab)
	for _, n := range []string{"master-1", "worker-1"} {
		h, _ := lab.Hosts.Host(n)
		list, err := os.ReadFile(h.Root() + "/etc/apt/sources.list.d/kubernetes.list")
		if err != nil || !strings.Contains(string(list), "] http://mirror.home.example/apt/ /\n") || strings.Contains(string(list), "pkgs.k8s.io") {
			t.Errorf("%s kubernetes.list: %v\n%s", n, err, list)
		}
	}
	converged(t, inv, lab, "the second plan")
}
