package kube_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/sim/host"
	"github.com/homelabctl/homelab/pkg/sim/kube"
)

// machines are the instances the hosts of a wipe lab run as.
type machines struct {
	mu sync.Mutex
	id map[string]string
}

func (m *machines) instance(name string) func() (string, []byte) {
	return func() (string, []byte) {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.id[name], nil
	}
}

// wipeLab is master-1 initialised, master-2 and master-3 joined as
// control planes and worker-1 as a worker, Calico applied (every node Ready), on hosts
// that are machines host.Spec.Instance names, wired to Sim.Wiped.
func wipeLab(t *testing.T) (*kubeLab, *machines) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(key)
	now := time.Now()
	s := kube.New(kube.Options{Now: func() time.Time { return now }})
	lab, err := host.NewLab(host.LabOptions{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Programs: s.Programs(),
		Packages: s.Packages(), Internet: s.Internet(), Wiped: s.Wiped})
	if err != nil {
		t.Fatal(err)
	}
	l := &kubeLab{t: t, lab: lab, sim: s, signer: signer, conns: map[string]*ssh.Client{}}
	t.Cleanup(func() {
		for _, c := range l.conns {
			c.Close()
		}
		lab.Close()
	})
	m := &machines{id: map[string]string{}}
	for _, n := range []string{"master-1", "master-2", "master-3", "worker-1"} {
		m.id[n] = n + "-1"
		if _, err := lab.Add(host.Spec{Name: n, Address: netip.MustParsePrefix(addrs[n] + "/24"), Users: []string{"debian"},
			Instance: m.instance(n)}); err != nil {
			t.Fatal(err)
		}
		l.powerOn(n)
		l.prepare(n)
		l.pin(n, addrs["master-1"])
	}
	l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfig("master-1"))
	l.must("master-1", initCmd)
	hash := l.caPin()
	for _, n := range []string{"master-2", "master-3"} {
		l.put(n, "/etc/kubernetes/homelab/join.yaml", joinConfig(n, token, hash, certKey, true))
		l.must(n, joinCmd)
	}
	l.put("worker-1", "/etc/kubernetes/homelab/join.yaml", joinConfig("worker-1", token, hash, "", false))
	l.must("worker-1", joinCmd)
	l.must("master-1", kubectl+"apply -f https://raw.githubusercontent.com/projectcalico/calico/v3.28.2/manifests/calico.yaml")
	return l, m
}

// recreate makes name another machine, as a guest destroyed and created
// again, and looks at it so that it powers on as that machine.
func (l *kubeLab) recreate(m *machines, name string) {
	l.t.Helper()
	m.mu.Lock()
	m.id[name] += "+"
	m.mu.Unlock()
	l.mu.Lock()
	if c := l.conns[name]; c != nil {
		c.Close()
		delete(l.conns, name)
	}
	l.mu.Unlock()
	l.powerOn(name)
}

// powerOn looks at name's SSH port, so that it powers on as the machine
// it is now (its host key known before anything dials it).
func (l *kubeLab) powerOn(name string) {
	l.t.Helper()
	c, err := l.lab.Dial(context.Background(), "tcp", addrs[name]+":22")
	if err != nil {
		l.t.Fatalf("power on %s: %v", name, err)
	}
	c.Close()
}

// node returns the cluster's Node name.
func node(t *testing.T, s *kube.Sim, name string) (kube.Node, bool) {
	t.Helper()
	c, ok := s.Cluster()
	if !ok {
		t.Fatal("no cluster")
	}
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return kube.Node{}, false
}

// A re-created worker is a new machine: its Node stays, NotReady; the
// new machine joins under the same name and the Node is Ready again. A
// Ready Node of the name refuses the join with kubeadm's words.
func TestWipedWorkerRejoins(t *testing.T) {
	l, m := wipeLab(t)
	hash := l.caPin()
	join := joinConfig("worker-1", token, hash, "", false)

	// A machine that takes a Ready node's name is refused.
	l.must("worker-1", "kubeadm reset -f")
	l.put("worker-1", "/etc/kubernetes/homelab/join.yaml", strings.ReplaceAll(join, `name: "worker-1"`, `name: "master-3"`))
	l.fails("worker-1", joinCmd, 1, `error execution phase kubelet-start: a Node with name "master-3" and status "Ready" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node`)
	// kubeadm reset stopped worker-1's kubelet: its Node is NotReady, and
	// a join under its name takes it over.
	if n, _ := node(t, l.sim, "worker-1"); n.Ready {
		t.Errorf("worker-1 after kubeadm reset: %+v", n)
	}
	l.must("worker-1", "kubeadm reset -f")
	l.put("worker-1", "/etc/kubernetes/homelab/join.yaml", join)
	l.must("worker-1", joinCmd)
	if n, _ := node(t, l.sim, "worker-1"); !n.Ready {
		t.Errorf("worker-1 joined again after kubeadm reset: %+v", n)
	}

	l.recreate(m, "worker-1")
	if n, ok := node(t, l.sim, "worker-1"); !ok || n.Ready || !n.Lost {
		t.Fatalf("worker-1 after its machine was re-created: %+v (found %t), want it NotReady", n, ok)
	}
	if out := l.must("master-1", kubectl+"get node worker-1 --no-headers"); !strings.Contains(out, "NotReady") {
		t.Errorf("kubectl get node worker-1: %q", out)
	}
	if st, _, _ := l.ssh("worker-1", "test -e /etc/kubernetes/kubelet.conf"); st == 0 {
		t.Error("the new machine has the old one's kubelet.conf")
	}
	l.prepare("worker-1")
	l.pin("worker-1", addrs["master-1"])
	l.put("worker-1", "/etc/kubernetes/homelab/join.yaml", join)
	l.must("worker-1", joinCmd)
	if n, ok := node(t, l.sim, "worker-1"); !ok || !n.Ready {
		t.Errorf("worker-1 after the rejoin: %+v", n)
	}
	if c, _ := l.sim.Cluster(); len(c.Nodes) != 4 {
		t.Errorf("nodes %+v", c.Nodes)
	}
}

// A re-created control plane leaves its etcd member in the list,
// unreachable, and its Node NotReady; the cluster goes on with the
// others. The new machine's join is refused ("Peer URLs already exists")
// until the member is removed. When every control plane is a new machine
// the cluster is gone: a new init makes another.
func TestWipedControlPlanes(t *testing.T) {
	l, m := wipeLab(t)
	before, _ := l.sim.Cluster()
	l.recreate(m, "master-2")
	c, ok := l.sim.Cluster()
	if !ok || len(c.Members) != 3 {
		t.Fatalf("members after re-creating master-2: %+v", c)
	}
	var stale uint64
	for _, mb := range c.Members {
		if want := mb.Name != "master-2"; mb.Started != want {
			t.Errorf("member %+v: started %t, want %t", mb, mb.Started, want)
		}
		if mb.Name == "master-2" {
			stale = mb.ID
		}
	}
	if n, _ := node(t, l.sim, "master-2"); n.Ready || !n.Lost {
		t.Errorf("master-2's Node: %+v, want it NotReady", n)
	}
	if h, _ := l.lab.Host("master-2"); h.Serving(6443) {
		t.Error("the new master-2 serves the old apiserver")
	}
	// What the wipe changed is saved and loaded as it is.
	if again := saveLoad(t, l.sim); again == nil || fmt.Sprint(again.Members) != fmt.Sprint(c.Members) || fmt.Sprint(again.Nodes) != fmt.Sprint(c.Nodes) {
		t.Errorf("after Save and Load: %+v, want %+v", again, c)
	}
	// Two of three members: the cluster answers; the member is listed,
	// and its pod is gone with the disk.
	if out := l.must("master-1", kubectl+"-n kube-system exec etcd-master-1"+etcdctl+"member list"); !strings.Contains(out, "master-2") {
		t.Errorf("member list lost master-2's member:\n%s", out)
	}
	l.fails("master-1", kubectl+"-n kube-system exec etcd-master-2"+etcdctl+"member list", 1, `pods "etcd-master-2" not found`)

	l.prepare("master-2")
	l.pin("master-2", addrs["master-1"])
	l.put("master-2", "/etc/kubernetes/homelab/join.yaml", joinConfig("master-2", token, l.caPin(), certKey, true))
	l.fails("master-2", joinCmd, 1, "etcdserver: Peer URLs already exists")
	l.must("master-1", kubectl+"-n kube-system exec etcd-master-1"+etcdctl+"member remove "+strconv.FormatUint(stale, 16))
	l.must("master-2", "kubeadm reset -f")
	l.put("master-2", "/etc/kubernetes/homelab/join.yaml", joinConfig("master-2", token, l.caPin(), certKey, true))
	l.must("master-2", joinCmd)
	if n, _ := node(t, l.sim, "master-2"); !n.Ready {
		t.Errorf("master-2's Node after the rejoin: %+v", n)
	}
	c, _ = l.sim.Cluster()
	for _, mb := range c.Members {
		if !mb.Started || mb.Learner {
			t.Errorf("after the rejoin: member %+v", mb)
		}
	}

	// Every control plane a new machine: the cluster is gone with etcd's
	// data.
	l.recreate(m, "master-1")
	l.recreate(m, "master-2")
	if _, ok := l.sim.Cluster(); !ok {
		t.Fatal("the cluster went with two of three control planes' disks")
	}
	l.recreate(m, "master-3")
	if _, ok := l.sim.Cluster(); ok {
		t.Fatal("the cluster outlived every control plane's disk")
	}
	if again := saveLoad(t, l.sim); again != nil {
		t.Errorf("a lost cluster saved and loaded: %+v", again)
	}
	l.prepare("master-1")
	l.pin("master-1", addrs["master-1"])
	l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfig("master-1"))
	l.must("master-1", initCmd)
	after, ok := l.sim.Cluster()
	if !ok || bytes.Equal(after.CA, before.CA) || len(after.Members) != 1 || len(after.Nodes) != 1 {
		t.Errorf("after a new init: %+v", after)
	}
}

// saveLoad saves s and loads it into a new Sim, returning its cluster
// (nil when none).
func saveLoad(t *testing.T, s *kube.Sim) *kube.Cluster {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Save(&buf); err != nil {
		t.Fatal(err)
	}
	again := kube.New(kube.Options{})
	if err := again.Load(&buf); err != nil {
		t.Fatal(err)
	}
	c, _ := again.Cluster()
	return c
}
