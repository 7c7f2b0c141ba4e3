package homelab_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/kubeadm"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/simlab"
)

// labCalls are what the simulators answered so far: PVE API calls,
// RouterOS sentences, and SSH commands per host.
type labCalls struct {
	pve, routeros int
	ssh           map[string]int
}

func countLab(lab *simlab.Lab) labCalls {
	c := labCalls{pve: len(lab.Proxmox.Log()), routeros: len(lab.Router.Log()), ssh: map[string]int{}}
	for _, h := range lab.Hosts.Hosts() {
		c.ssh[h.Name()] = len(h.SSH().Log())
	}
	return c
}

func (c labCalls) minus(d labCalls) labCalls {
	out := labCalls{pve: c.pve - d.pve, routeros: c.routeros - d.routeros, ssh: map[string]int{}}
	for h, n := range c.ssh {
		out.ssh[h] = n - d.ssh[h]
	}
	return out
}

// rerun plans and runs file on lab as a new `homelab up` would (a new
// router session: login, identify, /quit) and returns the calls its
// plan and its run made.
func rerun(t *testing.T, lab *simlab.Lab, file *plan.File) (planned, ran labCalls, p *plan.Plan) {
	t.Helper()
	ctx := context.Background()
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	opts := ApplyOptions{Clients: lab.Clients(), Parallelism: 8}
	lab.Clients().Router.Close() // the last run's session
	start := countLab(lab)
	p, err := Plan(ctx, inv, file, PlanOptions{Clients: lab.Clients()})
	if err != nil {
		t.Fatal(err)
	}
	mid := countLab(lab)
	res, err := Run(ctx, p, opts.RunOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		if s.Change.Action.Changes() {
			t.Fatalf("the lab is not converged: %s: %+v", s.ID, s.Change)
		}
	}
	lab.Clients().Router.Close()
	end := countLab(lab)
	return mid.minus(start), end.minus(mid), p
}

// A converged re-run of the reference lab reads each object once: counted
// by the simulators, the whole re-run makes at most 24 PVE calls (one
// cluster list, one config per guest) and 15 RouterOS sentences (one print
// per menu, the session's login, identify and /quit), and per phase
// (the difference between re-runs of the plan cut after each phase) at
// most 2 SSH commands per host, on every host: the plan reads each host
// with at most one command (its facts, the manager's probe and the gates'
// looks gathered in it), and the run reads nothing again, the gates'
// looks included (they passed while planning and nothing they need
// changed).
func TestConvergedRerunCalls(t *testing.T) {
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	file := fullStack(t)
	if _, _, err := Up(context.Background(), inv, file, ApplyOptions{Clients: lab.Clients(), Parallelism: 8}); err != nil {
		t.Fatal(err)
	}
	planned, ran, _ := rerun(t, lab, file)
	if total := planned.pve + ran.pve; total > 24 {
		t.Errorf("a converged re-run made %d PVE calls (%d planning), want at most 24", total, planned.pve)
	}
	if total := planned.routeros + ran.routeros; total > 15 {
		t.Errorf("a converged re-run sent %d RouterOS sentences (%d planning), want at most 15", total, planned.routeros)
	}
	if ran.pve != 0 || ran.routeros > 1 { // the /quit
		t.Errorf("the run read again: %d PVE calls, %d RouterOS sentences", ran.pve, ran.routeros)
	}
	t.Logf("the re-run: PVE %d calls, RouterOS %d sentences", planned.pve+ran.pve, planned.routeros+ran.routeros)

	prevPlanned, prevRan := labCalls{ssh: map[string]int{}}, labCalls{ssh: map[string]int{}}
	for n := 1; n <= len(file.Phases); n++ {
		cut := *file
		cut.Phases = file.Phases[:n]
		planned, ran, _ := rerun(t, lab, &cut)
		phase := file.Phases[n-1].Kind
		for host, c := range planned.ssh {
			reads, sent := c-prevPlanned.ssh[host], ran.ssh[host]-prevRan.ssh[host]
			if reads > 1 {
				t.Errorf("phase %s: the plan read %s with %d commands, want at most 1", phase, host, reads)
			}
			if reads+sent > 2 {
				t.Errorf("phase %s: %d commands on %s (%d planning), want at most 2", phase, reads+sent, host, reads)
			}
			if reads+sent > 0 {
				t.Logf("phase %s: %s: %d command(s) planning, %d running", phase, host, reads, sent)
			}
		}
		prevPlanned, prevRan = planned, ran
	}
}

// A gate that passed while planning is not looked through again by a
// converged re-run, but one whose look fails then still waits and fails:
// with HAProxy stopped on every load balancer of a converged lab, a
// re-run of the kubernetes phase (none of whose steps reads HAProxy, so
// nothing the gate needs changes) stops at the VIP gate, saying what it
// waited for and what it saw, and points no one at the VIP.
func TestConvergedRerunGateStillWaits(t *testing.T) {
	inv, lab := haLab(t)
	ctx := context.Background()
	clients := lab.Clients()
	kube, err := plan.LoadFile("../../plans/kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []*plan.File{infraAndLoadBalancers(t), kube} {
		if _, _, err := Up(ctx, inv, file, ApplyOptions{Clients: clients, Parallelism: 6}); err != nil {
			t.Fatal(err)
		}
	}
	p, _, err := Up(ctx, inv, kube, ApplyOptions{Clients: clients, Parallelism: 6})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := p.Step(kubeadm.GateVIPReady); s.Change.Passed == "" {
		t.Fatalf("the VIP gate did not pass while planning a converged lab: %+v", s.Change)
	}
	stopHAProxy(t, lab, "lb-1", "lb-2")
	clients.KubeTimeouts.VIP = 2 * time.Second
	p, res, err := Up(ctx, inv, kube, ApplyOptions{Clients: clients, Parallelism: 6})
	want := "step kube/gate/vip-ready: waited 2s for https://k8s-api.home.example:6443/readyz through the VIP 192.168.30.10 and every control plane up in HAProxy; last saw: "
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("the re-run with HAProxy stopped: %v\nwant an error containing\n%s", err, want)
	}
	if s, _ := p.Step(kubeadm.GateVIPReady); s.Change.Passed != "" {
		t.Errorf("the VIP gate passed while planning with HAProxy stopped: %q", s.Change.Passed)
	}
	for _, s := range res.Steps {
		if s.Change.Action.Changes() {
			t.Errorf("%s changed the lab: %+v", s.ID, s.Change)
		}
	}
}
