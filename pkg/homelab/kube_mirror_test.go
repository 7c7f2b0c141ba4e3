package homelab_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/sim/kube"
	"github.com/homelabctl/homelab/pkg/simlab"
)

// mirrorLab is the HA lab whose nodes get their packages from a mirror
// inside the lab, changed by edits.
func mirrorLab(t *testing.T, m *kube.Mirror, edits ...func(*inventory.Inventory)) (*inventory.Inventory, *simlab.Lab) {
	t.Helper()
	inv := loadInventory(t, "testdata/ha.yaml")
	inv.Kubernetes.Packages = inventory.Packages{Source: inventory.PackagesMirror,
		Repository: "http://" + m.Host + "/apt/", KeyURL: "http://" + m.Host + "/apt/Release.key"}
	for _, edit := range edits {
		edit(inv)
	}
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05, KubeMirror: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	return inv, lab
}

// With packages.source: mirror every node's apt source is the mirror's
// flat repository with its key, pkgs.k8s.io is never named; with
// containerd.restrict_oom_score_adj containerd's CRI plugin has it beside
// SystemdCgroup; the cluster comes up and a second plan changes nothing.
func TestKubernetesFromAMirror(t *testing.T) {
	m := &kube.Mirror{Host: "mirror.home.example"}
	inv, lab := mirrorLab(t, m, func(inv *inventory.Inventory) { inv.Kubernetes.Containerd.RestrictOOMScoreAdj = true })
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
		conf, _ := os.ReadFile(h.Root() + "/etc/containerd/config.toml")
		if !strings.Contains(string(conf), "    restrict_oom_score_adj = true\n") || !strings.Contains(string(conf), "SystemdCgroup = true\n") {
			t.Errorf("%s config.toml:\n%s", n, conf)
		}
	}
	converged(t, inv, lab, "the second plan")
}

// archiveRefs are the images kubeadm of version v wants, as the mirror
// holds them.
func archiveRefs(v string) []string {
	return []string{"registry.k8s.io/kube-apiserver:v" + v, "registry.k8s.io/kube-proxy:v" + v,
		"registry.k8s.io/coredns/coredns:v1.11.3", "registry.k8s.io/pause:3.10"}
}

// Image archives are downloaded and imported on every node before init
// and join, under the names their files give; a second plan downloads
// nothing.
func TestKubernetesImportsImageArchives(t *testing.T) {
	inv := loadInventory(t, "testdata/ha.yaml")
	refs := archiveRefs(inv.Kubernetes.Version)
	m := &kube.Mirror{Host: "mirror.home.example", Images: refs}
	inv, lab := mirrorLab(t, m, func(inv *inventory.Inventory) {
		for _, r := range refs {
			inv.Kubernetes.ImageArchives = append(inv.Kubernetes.ImageArchives, "http://mirror.home.example/images/"+kube.ArchiveFile(r))
		}
	})
	p, err := Plan(context.Background(), inv, fullStack(t), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shown := false
	for _, s := range p.Steps {
		for _, f := range s.Change.Fields {
			shown = shown || s.ID == "kube/prepare/worker-1" && f.Name == "image archives" && strings.Contains(f.New, "coredns_coredns_v1.11.3.tar")
		}
	}
	if !shown {
		t.Error("the offline plan does not show the image archives on kube/prepare/worker-1")
	}
	var log runLog
	if _, _, err := Up(context.Background(), inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event)}); err != nil {
		t.Fatalf("up: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	healthy(t, lab)
	for _, n := range []string{"master-1", "master-2", "worker-1"} {
		h, _ := lab.Hosts.Host(n)
		st, _ := os.ReadFile(h.Root() + "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db")
		for _, r := range refs {
			if !strings.Contains(string(st), "k8s.io "+r+"\n") {
				t.Errorf("%s: containerd has no %s:\n%s", n, r, st)
			}
		}
	}
	imported := 0
	for _, l := range log.lines {
		if strings.Contains(l, "unpacking registry.k8s.io/coredns/coredns:v1.11.3") {
			imported++
		}
	}
	if imported != 4 {
		t.Errorf("coredns imported %d times, want once per node (4)", imported)
	}
	converged(t, inv, lab, "the second plan")
}

// An archive whose file name names another image than it holds fails the
// node's preparation with the rule, instead of downloading it again on
// every run.
func TestKubernetesMisnamedImageArchive(t *testing.T) {
	inv := loadInventory(t, "testdata/ha.yaml")
	file := "kube-proxy_v" + inv.Kubernetes.Version + ".tar"
	m := &kube.Mirror{Host: "mirror.home.example", Files: map[string]string{file: "registry.k8s.io/kube-scheduler:v" + inv.Kubernetes.Version}}
	inv, lab := mirrorLab(t, m, func(inv *inventory.Inventory) {
		inv.Kubernetes.ImageArchives = []string{"http://mirror.home.example/images/" + file}
	})
	_, _, err := Up(context.Background(), inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6})
	if err == nil || !strings.Contains(err.Error(), "containerd lists no registry.k8s.io/kube-proxy:v"+inv.Kubernetes.Version) {
		t.Fatalf("up: %v", err)
	}
}
