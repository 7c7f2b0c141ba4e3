package homelab_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeadm"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/simlab"
	"github.com/homelabctl/homelab/pkg/step"
)

// haLab is testdata/ha.yaml (changed by edits) and a simulated lab for
// it, closed with the test.
func haLab(t *testing.T, edits ...func(*inventory.Inventory)) (*inventory.Inventory, *simlab.Lab) {
	t.Helper()
	inv := loadInventory(t, "testdata/ha.yaml")
	for _, edit := range edits {
		edit(inv)
	}
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	return inv, lab
}

// runLog records a run's events: the order steps finished in, and every
// line anything printed.
type runLog struct {
	mu    sync.Mutex
	done  []step.ID
	lines []string
}

func (r *runLog) Event(e engine.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Kind {
	case engine.StepDone:
		r.done = append(r.done, e.Step)
	case engine.StepOutput:
		r.lines = append(r.lines, string(e.Step)+": "+e.Line)
	case engine.StepFailed, engine.StepRetry:
		r.lines = append(r.lines, string(e.Step)+": "+e.Err)
	}
}

// index returns where id finished in the run, or -1.
func (r *runLog) index(id step.ID) int {
	for i, d := range r.done {
		if d == id {
			return i
		}
	}
	return -1
}

func fullStack(t *testing.T) *plan.File {
	t.Helper()
	file, err := plan.LoadFile("../../plans/full-stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// The whole HA lab on the simulated lab: three control planes behind the
// VIP, over SSH to simulated hosts whose kubeadm and kubectl answer as the
// real ones. The run follows DESIGN.md's order (no node points at the VIP
// before the VIP gate passed), the cluster ends with three started etcd
// voting members and every node Ready, the kubeconfig names the endpoint
// (mode 0600), no token or certificate key reaches any output, and a
// second plan changes nothing.
func TestKubernetesOnSimulatedLab(t *testing.T) {
	inv, lab := haLab(t)
	ctx := context.Background()
	var log runLog
	opts := ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event)}
	_, _, err := Up(ctx, inv, fullStack(t), opts)
	if err != nil {
		t.Fatalf("up: %v\n%s", err, strings.Join(log.lines, "\n"))
	}

	gate := log.index(kubeadm.GateVIPReady)
	for _, n := range []string{"master-1", "master-2", "master-3", "worker-1"} {
		if flip := log.index(step.ID("kube/flip/" + n)); flip < gate {
			t.Errorf("kube/flip/%s finished at %d, before the VIP gate (%d)", n, flip, gate)
		}
	}
	order := []step.ID{"kube/init/master-1", "kube/gate/apiserver/master-1", "kube/join/master-2", kubeadm.GateControlPlane,
		kubeadm.GateVIPReady, kubeadm.RestartKubeProxy, kubeadm.GateEndpoint, "kube/join/worker-1", kubeadm.GateNodesReady, kubeadm.Kubeconfig}
	for i := 1; i < len(order); i++ {
		if a, b := log.index(order[i-1]), log.index(order[i]); a < 0 || b < 0 || a > b {
			t.Errorf("%s (%d) should finish before %s (%d)", order[i-1], a, order[i], b)
		}
	}

	healthy(t, lab)
	c, _ := lab.Kube.Cluster()
	if ds := c.DaemonSets["kube-proxy"]; ds == nil || ds.Restarts == 0 || ds.Annotations["homelab/endpoint"] != "192.168.30.10" {
		t.Errorf("kube-proxy %+v", ds)
	}
	for _, tok := range c.Tokens {
		assertNoSecret(t, log.lines, tok.Secret)
	}
	// kubeadm init prints the join commands with the token and the key:
	// they reach the output redacted.
	redacted := false
	for _, l := range log.lines {
		if certKeyRE.MatchString(l) {
			t.Errorf("a certificate key reached the output: %s", l)
		}
		redacted = redacted || strings.Contains(l, "--certificate-key ***")
	}
	if !redacted {
		t.Errorf("kubeadm init's join command is not in the output, redacted:\n%s", strings.Join(log.lines, "\n"))
	}
	for _, m := range []string{"master-1", "master-2", "master-3", "worker-1"} {
		h, _ := lab.Hosts.Host(m)
		hosts, err := os.ReadFile(h.Root() + "/etc/hosts")
		if err != nil || !strings.Contains(string(hosts), "192.168.30.10 k8s-api.home.example") {
			t.Errorf("%s /etc/hosts: %v\n%s", m, err, hosts)
		}
		if _, err := os.Stat(h.Root() + kubeadm.JoinConfigPath); err == nil {
			t.Errorf("%s keeps %s, which holds the token", m, kubeadm.JoinConfigPath)
		}
	}

	kc := lab.Clients().Kubeconfig
	fi, err := os.Stat(kc)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig %s: %v %v", kc, err, fi)
	}
	b, _ := os.ReadFile(kc)
	if !strings.Contains(string(b), "server: https://k8s-api.home.example:6443") {
		t.Errorf("kubeconfig:\n%s", b)
	}

	converged(t, inv, lab, "the second plan")
}

// converged fails unless a plan of the full stack against lab changes
// nothing (gates and waits aside).
func converged(t *testing.T, inv *inventory.Inventory, lab *simlab.Lab, what string) {
	t.Helper()
	p, err := Plan(context.Background(), inv, fullStack(t), PlanOptions{Clients: lab.Clients()})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		if a := s.Change.Action; a != step.None && a != step.Run {
			t.Errorf("%s: %s is %s (%s) %+v", what, s.ID, a, s.Change.Reason, s.Change.Fields)
		}
	}
}

// certKeyRE matches a certificate key after the flag that takes it.
var certKeyRE = regexp.MustCompile(`--certificate-key [0-9a-f]{64}`)

// assertNoSecret fails when secret appears in any line.
func assertNoSecret(t *testing.T, lines []string, secret string) {
	t.Helper()
	if secret == "" {
		return
	}
	for _, l := range lines {
		if strings.Contains(l, secret) {
			t.Errorf("a secret reached the output: %s", l)
		}
	}
}

// upKube brings the HA lab up on lab, cancelling the run as soon as stop
// finished (the rest of the run is killed where it stands), and returns
// the run's log and error.
func upKube(t *testing.T, inv *inventory.Inventory, lab *simlab.Lab, stop step.ID) (*runLog, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &runLog{}
	sink := engine.SinkFunc(func(e engine.Event) {
		log.Event(e)
		if e.Kind == engine.StepDone && e.Step == stop {
			cancel()
		}
	})
	_, _, err := Up(ctx, inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: sink})
	return log, err
}

// stopHAProxy stops HAProxy on the load balancers lbs of the simulated
// lab.
func stopHAProxy(t *testing.T, lab *simlab.Lab, lbs ...string) {
	t.Helper()
	for _, lb := range lbs {
		h, _ := lab.Hosts.Host(lb)
		var out strings.Builder
		if code := h.Run(context.Background(), "root", "systemctl stop haproxy", nil, &out, &out); code != 0 {
			t.Fatalf("%s: systemctl stop haproxy: %d %s", lb, code, out.String())
		}
	}
}

// healthy fails unless the simulated cluster has three started voting
// etcd members and every node Ready.
func healthy(t *testing.T, lab *simlab.Lab) { t.Helper(); healthyNodes(t, lab, 4) }

// healthyNodes is healthy for a lab of nodes Kubernetes nodes.
func healthyNodes(t *testing.T, lab *simlab.Lab, nodes int) {
	t.Helper()
	c, ok := lab.Kube.Cluster()
	if !ok {
		t.Fatal("no cluster")
	}
	if len(c.Members) != 3 || len(c.Nodes) != nodes {
		t.Errorf("%d etcd members, %d nodes", len(c.Members), len(c.Nodes))
	}
	for _, m := range c.Members {
		if !m.Started || m.Learner {
			t.Errorf("etcd member %+v", m)
		}
	}
	for _, n := range c.Nodes {
		if !n.Ready {
			t.Errorf("node %s not Ready", n.Name)
		}
	}
}

// A run killed after any kind of step of the sequence (other steps
// cancelled where they stood) resumes: the next run converges, and the one after
// changes nothing.
func TestKubernetesResumes(t *testing.T) {
	for _, stop := range []step.ID{"kube/prepare/master-2", "kube/pin/master-3", "kube/init/master-1", "kube/gate/apiserver/master-1", "kube/join/master-2",
		kubeadm.GateControlPlane, kubeadm.GateVIPReady, "kube/flip/master-1", kubeadm.RestartKubeProxy, kubeadm.GateEndpoint, "kube/join/worker-1", "kube/cni/calico", kubeadm.GateNodesReady} {
		t.Run(strings.ReplaceAll(string(stop), "/", "_"), func(t *testing.T) {
			t.Parallel()
			inv, lab := haLab(t)
			if _, err := upKube(t, inv, lab, stop); err == nil {
				t.Fatalf("the run was not stopped after %s", stop)
			}
			if log, err := upKube(t, inv, lab, ""); err != nil {
				t.Fatalf("resume after %s: %v\n%s", stop, err, strings.Join(log.lines, "\n"))
			}
			healthy(t, lab)
			converged(t, inv, lab, "after resuming after "+string(stop))
		})
	}
}

// A run stopped after master1's init and resumed a day later finds the
// token and the uploaded certificates expired: it makes a new token and
// uploads the certificates again before the joins.
func TestKubernetesRenewsExpiredTokenAndCertificates(t *testing.T) {
	inv, lab := haLab(t)
	if _, err := upKube(t, inv, lab, "kube/gate/apiserver/master-1"); err == nil {
		t.Fatal("the run was not stopped")
	}
	before, _ := lab.Kube.Cluster()
	lab.Kube.Advance(25 * time.Hour)
	if c, _ := lab.Kube.Cluster(); len(c.Tokens) != 0 || c.Certs != nil {
		t.Fatalf("a day later the cluster still has tokens %v or certificates %+v", c.Tokens, c.Certs)
	}
	log, err := upKube(t, inv, lab, "")
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	healthy(t, lab)
	after, _ := lab.Kube.Cluster()
	if after.Certs == nil || !after.Certs.Uploaded.After(before.Certs.Uploaded) {
		t.Errorf("certificates not uploaded again: before %+v after %+v", before.Certs, after.Certs)
	}
	if !strings.Contains(strings.Join(log.lines, "\n"), "a new bootstrap token") {
		t.Errorf("no new token in:\n%s", strings.Join(log.lines, "\n"))
	}
	for _, tok := range append(before.Tokens, after.Tokens...) {
		assertNoSecret(t, log.lines, tok.Secret)
	}
}

// A control-plane join that fails after etcd added its member leaves an
// unpromoted learner: the run fails with kubeadm's words, and the next
// run removes the member, resets the node and joins it.
func TestKubernetesRemovesStaleEtcdMember(t *testing.T) {
	inv, lab := haLab(t)
	lab.Kube.FailJoin("master-2", "etcd")
	_, err := upKube(t, inv, lab, "")
	if err == nil || !strings.Contains(err.Error(), "kube/join/master-2") || !strings.Contains(err.Error(), "kubeadm join") {
		t.Fatalf("the failed join: %v", err)
	}
	c, _ := lab.Kube.Cluster()
	learner := false
	for _, m := range c.Members {
		learner = learner || m.Learner
	}
	if !learner {
		t.Fatalf("the failed join left no learner: %+v", c.Members)
	}
	log, err := upKube(t, inv, lab, "")
	if err != nil {
		t.Fatalf("rejoin: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	out := strings.Join(log.lines, "\n")
	if !strings.Contains(out, "removing the etcd member with its peer URL (a failed join's") || !strings.Contains(out, "kubeadm reset -f") {
		t.Errorf("the rejoin did not remove the member and reset:\n%s", out)
	}
	healthy(t, lab)
}

// With HAProxy stopped on every load balancer the VIP never answers: the
// control planes still come up on master1's IP, the VIP gate fails saying
// what it waited for and what it saw, and no node is pointed at the VIP
// nor any worker joined.
func TestKubernetesVIPGateHoldsTheFlip(t *testing.T) {
	inv, lab := haLab(t)
	ctx := context.Background()
	clients := lab.Clients()
	if _, _, err := Up(ctx, inv, infraAndLoadBalancers(t), ApplyOptions{Clients: clients, Parallelism: 6}); err != nil {
		t.Fatal(err)
	}
	stopHAProxy(t, lab, "lb-1", "lb-2")
	clients.KubeTimeouts.VIP = 2 * time.Second
	file, err := plan.LoadFile("../../plans/kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var log runLog
	_, res, err := Up(ctx, inv, file, ApplyOptions{Clients: clients, Parallelism: 6, Sink: engine.SinkFunc(log.Event)})
	if err == nil {
		t.Fatal("the run passed the VIP gate with HAProxy stopped")
	}
	want := "step kube/gate/vip-ready: waited 2s for https://k8s-api.home.example:6443/readyz through the VIP 192.168.30.10 and every control plane up in HAProxy; last saw: https://k8s-api.home.example:6443/readyz through 192.168.30.10: curl: "
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%v\nwant it to contain\n%s", err, want)
	}
	if log.index(kubeadm.GateControlPlane) < 0 {
		t.Error("the control planes did not come up on master1's IP")
	}
	for _, s := range res.Steps {
		if strings.HasPrefix(string(s.ID), "kube/flip/") || s.ID == "kube/join/worker-1" {
			if s.Status != engine.Skipped {
				t.Errorf("%s: %s", s.ID, s.Status)
			}
		}
	}
	for _, n := range []string{"master-1", "master-2", "master-3", "worker-1"} {
		h, _ := lab.Hosts.Host(n)
		hosts, _ := os.ReadFile(h.Root() + "/etc/hosts")
		if strings.Contains(string(hosts), "192.168.30.10 k8s-api") || !strings.Contains(string(hosts), "192.168.30.21 k8s-api.home.example") {
			t.Errorf("%s /etc/hosts:\n%s", n, hosts)
		}
	}
}

// kubernetes.pin: router-dns: the name is pinned and flipped by one static
// DNS record on the router, which the nodes resolve through; no node's
// /etc/hosts is touched, and a second plan changes nothing (the pin does
// not point the record back at master1).
func TestKubernetesRouterDNSPin(t *testing.T) {
	inv, lab := haLab(t, func(inv *inventory.Inventory) { inv.Kubernetes.Pin = kubeadm.PinRouterDNS })
	ctx := context.Background()
	var log runLog
	if _, _, err := Up(ctx, inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event)}); err != nil {
		t.Fatalf("up: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	if a, b := log.index(kubeadm.GateVIPReady), log.index(kubeadm.FlipRouterRecord); a < 0 || b < a {
		t.Errorf("the record flipped at %d, the VIP gate passed at %d", b, a)
	}
	if addr, ok := lab.Router.Resolve("k8s-api.home.example"); !ok || addr.String() != "192.168.30.10" {
		t.Errorf("the router resolves the endpoint to %v %v", addr, ok)
	}
	healthy(t, lab)
	for _, n := range []string{"master-1", "worker-1"} {
		h, _ := lab.Hosts.Host(n)
		if hosts, _ := os.ReadFile(h.Root() + "/etc/hosts"); strings.Contains(string(hosts), "k8s-api") {
			t.Errorf("%s /etc/hosts names the endpoint:\n%s", n, hosts)
		}
	}
	converged(t, inv, lab, "the second plan")
}

// haLabWorkers is haLab with workers worker-1 to worker-N.
func haLabWorkers(t *testing.T, workers int) (*inventory.Inventory, *simlab.Lab) {
	t.Helper()
	b, err := os.ReadFile("testdata/ha.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var more strings.Builder
	for i := 2; i <= workers; i++ {
		fmt.Fprintf(&more, "  - { name: worker-%d, kind: vm, node: pve, vmid: %d, memory: 4096, network: lab, ip: 192.168.30.%d, roles: [worker] }\n", i, 220+i, 30+i)
	}
	text := strings.Replace(string(b), "\nloadbalancer:", more.String()+"\nloadbalancer:", 1)
	path := filepath.Join(t.TempDir(), "ha.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := loadInventory(t, path)
	if n := len(inv.Workers()); n != workers {
		t.Fatalf("%d workers in the inventory, want %d", n, workers)
	}
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	return inv, lab
}

// Several workers join at once, each needing the run's bootstrap token:
// the token is created once, not once per worker (kubeadm refuses a second
// `token create` of the same id with "a token with id ... already
// exists"). On a fresh run init creates it; on a run resumed after the
// control planes joined, the first worker join does and the others wait
// for it.
func TestKubernetesJoinsWorkersTogether(t *testing.T) {
	const workers = 3
	for _, stop := range []step.ID{"", kubeadm.GateControlPlane, kubeadm.GateEndpoint} {
		t.Run("stop_"+strings.ReplaceAll(string(stop), "/", "_"), func(t *testing.T) {
			t.Parallel()
			inv, lab := haLabWorkers(t, workers)
			if stop != "" {
				if _, err := upKube(t, inv, lab, stop); err == nil {
					t.Fatalf("the run was not stopped after %s", stop)
				}
			}
			log, err := upKube(t, inv, lab, "")
			if err != nil {
				t.Fatalf("up: %v\n%s", err, strings.Join(log.lines, "\n"))
			}
			out := strings.Join(log.lines, "\n")
			if n := strings.Count(out, "a new bootstrap token"); stop != "" && n != 1 {
				t.Errorf("%d new bootstrap tokens, want 1:\n%s", n, out)
			}
			for i := 1; i <= workers; i++ {
				if log.index(step.ID(fmt.Sprintf("kube/join/worker-%d", i))) < 0 {
					t.Errorf("worker-%d did not join:\n%s", i, out)
				}
			}
			healthyNodes(t, lab, 3+workers)
			converged(t, inv, lab, "after the joins")
		})
	}
}

// A worker join that fails after kubelet.conf was written (the TLS
// bootstrap timed out) leaves a node with kubelet.conf and no Node in the
// cluster: the next run asks the cluster for the worker's Node (kubectl
// answers NotFound), resets the worker and joins it again.
func TestKubernetesRejoinsUnregisteredWorker(t *testing.T) {
	inv, lab := haLab(t)
	lab.Kube.FailJoin("worker-1", "kubelet-start")
	if _, err := upKube(t, inv, lab, ""); err == nil || !strings.Contains(err.Error(), "kube/join/worker-1") {
		t.Fatalf("the failed join: %v", err)
	}
	h, _ := lab.Hosts.Host("worker-1")
	if _, err := os.Stat(h.Root() + "/etc/kubernetes/kubelet.conf"); err != nil {
		t.Fatalf("the failed join left no kubelet.conf: %v", err)
	}
	if c, _ := lab.Kube.Cluster(); len(c.Nodes) != 3 {
		t.Fatalf("the failed join registered a node: %+v", c.Nodes)
	}
	log, err := upKube(t, inv, lab, "")
	if err != nil {
		t.Fatalf("rejoin: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	out := strings.Join(log.lines, "\n")
	if !strings.Contains(out, "kube/join/worker-1: worker-1: an earlier init or join did not finish: kubeadm reset -f") ||
		!strings.Contains(out, "kube/join/worker-1: This node has joined the cluster:") {
		t.Errorf("worker-1 was not reset and joined again:\n%s", out)
	}
	healthy(t, lab)
	converged(t, inv, lab, "after the rejoin")
}
