package homelab_test

import (
	"context"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/sim/host"
	"github.com/homelabctl/homelab/pkg/sim/kube"
	simpve "github.com/homelabctl/homelab/pkg/sim/pve"
	"github.com/homelabctl/homelab/pkg/simlab"
	"github.com/homelabctl/homelab/pkg/step"
)

// criticalPath is the longest chain of needs through the graph, each step
// weighted by how long it took in res: no schedule, however parallel, can
// finish sooner under the same step durations.
func criticalPath(g *step.Graph, res *engine.Result) time.Duration {
	took := map[step.ID]time.Duration{}
	for _, s := range res.Steps {
		took[s.ID] = s.Ended.Sub(s.Started)
	}
	finish := map[step.ID]time.Duration{}
	var longest time.Duration
	for _, s := range g.Order() {
		var start time.Duration
		for _, n := range s.Needs {
			start = max(start, finish[n])
		}
		finish[s.ID] = start + took[s.ID]
		longest = max(longest, finish[s.ID])
	}
	return longest
}

// lockBound is the other lower bound: the steps that share a lock key run
// at most capacity at a time (control-plane joins one after another, one
// clone per template at a time). None of them can start before the
// shortest chain of needs leading to one of them, their work takes at
// least its total divided by the capacity, and after the last one at
// least the shortest chain of dependents follows.
func lockBound(g *step.Graph, res *engine.Result) time.Duration {
	took := map[step.ID]time.Duration{}
	for _, s := range res.Steps {
		took[s.ID] = s.Ended.Sub(s.Started)
	}
	order := g.Order()
	head := map[step.ID]time.Duration{} // longest chain of needs before a step
	for _, s := range order {
		for _, n := range s.Needs {
			head[s.ID] = max(head[s.ID], head[n]+took[n])
		}
	}
	tail := map[step.ID]time.Duration{} // longest chain of dependents after a step
	for i := len(order) - 1; i >= 0; i-- {
		id := order[i].ID
		for _, d := range g.Dependents(id) {
			tail[id] = max(tail[id], took[d]+tail[d])
		}
	}
	type keyed struct {
		work       time.Duration
		head, tail time.Duration
		capacity   int
		seen       bool
	}
	keys := map[string]*keyed{}
	for _, s := range order {
		for _, l := range s.Locks {
			k := keys[l.Key]
			if k == nil {
				k = &keyed{capacity: max(l.Capacity, 1)}
				keys[l.Key] = k
			}
			if !k.seen || head[s.ID] < k.head {
				k.head = head[s.ID]
			}
			if !k.seen || tail[s.ID] < k.tail {
				k.tail = tail[s.ID]
			}
			k.seen = true
			k.work += took[s.ID]
		}
	}
	var bound time.Duration
	for _, k := range keys {
		bound = max(bound, k.head+k.work/time.Duration(k.capacity)+k.tail)
	}
	return bound
}

// Realistic durations of a rebuild's slow parts, for the benchmark: PVE's
// tasks (simpve.RealisticLatency: a 25 s clone, a 3 s start, 25 s until
// the guest agent answers); apt on the guests (6 s per update, 4 s per
// package downloaded and set up, from Debian and pkgs.k8s.io mirrors on a
// home uplink); kubeadm (60 s for init with its image pulls, 45 s for a
// join, 30 s from the CNI to a node Ready); keepalived's real VRRP timers.
var (
	realAptUpdate   = 6 * time.Second
	realAptPackage  = 4 * time.Second
	realKubeInit    = 60 * time.Second
	realKubeJoin    = 45 * time.Second
	realNodeReady   = 30 * time.Second
	realGatePoll    = 2 * time.Second
	benchmarkScaled = 0.01 // every duration above, scaled down 100 times
)

// makespan is how long a run's steps took, first start to last end.
func makespan(res *engine.Result) time.Duration {
	var first, last time.Time
	for _, s := range res.Steps {
		if first.IsZero() || s.Started.Before(first) {
			first = s.Started
		}
		if s.Ended.After(last) {
			last = s.Ended
		}
	}
	return last.Sub(first)
}

// calls counts the requests each system answered: PVE API calls, RouterOS
// API sentences and SSH commands on the guests.
type calls struct{ pve, routeros, ssh int }

func countCalls(lab *simlab.Lab) calls {
	c := calls{pve: len(lab.Proxmox.Log()), routeros: len(lab.Router.Log())}
	for _, h := range lab.Hosts.Hosts() {
		c.ssh += len(h.SSH().Log())
	}
	return c
}

func (c calls) minus(d calls) calls {
	return calls{c.pve - d.pve, c.routeros - d.routeros, c.ssh - d.ssh}
}

// BenchmarkUpSchedules brings the whole reference lab up (plans/full-stack:
// router, 15 guests, load balancers, the kubeadm cluster) on the simulated
// lab under the realistic durations above scaled down 100 times, and
// reports from the same runs: homelab's makespan (a step starts when what
// it needs is done); the lower bound of the same graph under the measured
// step durations (the longer of its critical path and the work behind its
// busiest lock key: no schedule can beat it); and the makespan of a
// phase-by-phase schedule (--strict-order: each phase waits for the whole
// previous one, as playbook tools do). Multiply the seconds by 100 for
// the real lab. It also reports the calls each system answered in the
// first run and in a converged re-run.
func BenchmarkUpSchedules(b *testing.B) {
	inv, _, err := inventory.Load("../../inventories/rachuna-net.yaml")
	if err != nil {
		b.Fatal(err)
	}
	file, err := plan.LoadFile("../../plans/full-stack.yaml")
	if err != nil {
		b.Fatal(err)
	}
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * benchmarkScaled) }
	pveLatency := simpve.RealisticLatency()
	pveLatency.Scale = benchmarkScaled
	opts := simlab.Options{
		Latency:     pveLatency,
		VRRPScale:   benchmarkScaled,
		HostLatency: host.Latency{Update: scale(realAptUpdate), Install: scale(realAptPackage)},
		KubeLatency: kube.Latency{Init: scale(realKubeInit), Join: scale(realKubeJoin), NodeReady: scale(realNodeReady)},
	}
	run := func(strict bool) (span, bound time.Duration, first, again calls) {
		lab, err := simlab.Start(context.Background(), inv, opts)
		if err != nil {
			b.Fatal(err)
		}
		defer lab.Close()
		clients := lab.Clients()
		clients.GatePoll = scale(realGatePoll)
		_, res, err := Up(context.Background(), inv, file, ApplyOptions{Clients: clients, Parallelism: 16, StrictOrder: strict})
		if err != nil {
			b.Fatal(err)
		}
		p, err := Plan(context.Background(), inv, file, PlanOptions{Clients: clients})
		if err != nil {
			b.Fatal(err)
		}
		first = countCalls(lab)
		if _, _, err := Up(context.Background(), inv, file, ApplyOptions{Clients: clients, Parallelism: 16}); err != nil {
			b.Fatal(err)
		}
		again = countCalls(lab).minus(first)
		return makespan(res), max(criticalPath(p.Graph(), res), lockBound(p.Graph(), res)), first, again
	}
	var span, bound, phased time.Duration
	var first, again calls
	for b.Loop() {
		m, lb, f, a := run(false)
		s, _, _, _ := run(true)
		span, bound, phased, first, again = span+m, bound+lb, phased+s, f, a
	}
	n := time.Duration(b.N)
	b.ReportMetric((span / n).Seconds(), "makespan-s")
	b.ReportMetric((bound / n).Seconds(), "lower-bound-s")
	b.ReportMetric((phased / n).Seconds(), "phase-by-phase-s")
	b.ReportMetric(float64(first.pve), "pve-calls-first")
	b.ReportMetric(float64(first.routeros), "routeros-calls-first")
	b.ReportMetric(float64(first.ssh), "ssh-commands-first")
	b.ReportMetric(float64(again.pve), "pve-calls-rerun")
	b.ReportMetric(float64(again.routeros), "routeros-calls-rerun")
	b.ReportMetric(float64(again.ssh), "ssh-commands-rerun")
}
