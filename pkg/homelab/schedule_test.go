package homelab_test

import (
	"context"
	"slices"
	"strings"
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
)

// Realistic durations of a rebuild's slow parts, for the benchmark: PVE's
// tasks (simpve.RealisticLatency: a 25 s clone, a 3 s start, 25 s until
// the guest agent answers); apt on the guests (6 s per update, 4 s per
// package downloaded and set up, from Debian and pkgs.k8s.io mirrors on a
// home uplink); kubeadm (60 s for init with its image pulls, 45 s for a
// join, 30 s from the CNI to a node Ready); keepalived's real VRRP timers.
var (
	realAptUpdate  = 6 * time.Second
	realAptPackage = 4 * time.Second
	realKubeInit   = 60 * time.Second
	realKubeJoin   = 45 * time.Second
	realNodeReady  = 30 * time.Second
	realGatePoll   = 2 * time.Second
	// benchmarkScaled scales every duration above down 10 times: the
	// simulators' own work (SSH, files, TLS: tens of milliseconds a
	// command on a loaded machine) is not scaled, and at 1/100 it stood
	// for minutes of a real rebuild that a real lab does not spend.
	benchmarkScaled = 0.1
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

// boundRuns is how many times BenchmarkUpSchedules brings the lab up
// under each schedule per iteration.
const boundRuns = 5

// BenchmarkUpSchedules brings the whole reference lab up (plans/full-stack:
// router, 15 guests, load balancers, the kubeadm cluster) on the simulated
// lab under the realistic durations above scaled down 10 times, 5 times
// under each schedule: homelab's (a step starts when what it needs is
// done, the one on the longest chain first) and phase by phase
// (--strict-order: each phase waits for the whole previous one, as
// playbook tools do). Its lower bound comes from the latency model, not
// from how long steps took (see bound_test.go): each step weighs what the
// simulators' modelled durations make it wait, the same whatever the
// schedule, and the bound is the longer of the critical path and the
// work behind the busiest lock key at its capacity. It fails if a step
// took less than its weight or a run finished below the bound. It
// reports, as min and median over the runs, makespan/bound and
// strict-order/makespan (a run and the strict run made beside it), the
// bound and the median makespan in seconds (multiply by 10 for the real
// lab), and the calls each system answered in a first run and in a
// converged re-run.
func BenchmarkUpSchedules(b *testing.B) {
	inv, _, err := inventory.Load("../../inventories/rachuna-net.yaml")
	if err != nil {
		b.Fatal(err)
	}
	file, err := plan.LoadFile("../../plans/full-stack.yaml")
	if err != nil {
		b.Fatal(err)
	}
	offline, err := Plan(context.Background(), inv, file, PlanOptions{Offline: true})
	if err != nil {
		b.Fatal(err)
	}
	g := offline.Graph()
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * benchmarkScaled) }
	pveLatency := simpve.RealisticLatency()
	pveLatency.Scale = benchmarkScaled
	type outcome struct {
		res          *engine.Result
		model        *modelGraph
		first, again calls
	}
	run := func(strict, rerun bool) outcome {
		apt := &aptLedger{}
		opts := simlab.Options{
			Latency:     pveLatency,
			VRRPScale:   benchmarkScaled,
			HostLatency: host.Latency{Update: scale(realAptUpdate), Install: scale(realAptPackage), Spent: apt.record},
			KubeLatency: kube.Latency{Init: scale(realKubeInit), Join: scale(realKubeJoin), NodeReady: scale(realNodeReady)},
		}
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
		model, err := modelledWeights(g, res, inv, lab, apt, opts)
		if err != nil {
			b.Fatal(err)
		}
		if below := model.below(res); len(below) > 0 {
			b.Fatalf("steps took less than the latency model makes them wait (strict order %v): the model is no lower bound:\n%s", strict, strings.Join(below, "\n"))
		}
		out := outcome{res: res, model: model}
		if !rerun {
			return out
		}
		out.first = countCalls(lab)
		if _, _, err := Up(context.Background(), inv, file, ApplyOptions{Clients: clients, Parallelism: 16}); err != nil {
			b.Fatal(err)
		}
		out.again = countCalls(lab).minus(out.first)
		return out
	}
	var overBound, strictOver, spans []float64
	var bound time.Duration
	var first, again calls
	for b.Loop() {
		var model *modelGraph
		var adaptive, phased []time.Duration
		for i := range boundRuns {
			for _, strict := range []bool{false, true} {
				o := run(strict, !strict && i == 0)
				if !strict && i == 0 {
					first, again = o.first, o.again
				}
				if model == nil {
					model = o.model
				} else {
					model.keepLeast(o.model)
				}
				if strict {
					phased = append(phased, makespan(o.res))
				} else {
					adaptive = append(adaptive, makespan(o.res))
				}
			}
		}
		bound = model.bound()
		for i := range adaptive {
			if adaptive[i] < bound || phased[i] < bound {
				b.Fatalf("a run finished below the lower bound %s: %s, strict order %s", bound, adaptive[i], phased[i])
			}
			overBound = append(overBound, adaptive[i].Seconds()/bound.Seconds())
			strictOver = append(strictOver, phased[i].Seconds()/adaptive[i].Seconds())
			spans = append(spans, adaptive[i].Seconds())
		}
	}
	b.ReportMetric(slices.Min(overBound), "makespan/bound-min")
	b.ReportMetric(median(overBound), "makespan/bound-median")
	b.ReportMetric(slices.Min(strictOver), "strict/makespan-min")
	b.ReportMetric(median(strictOver), "strict/makespan-median")
	b.ReportMetric(bound.Seconds(), "bound-s")
	b.ReportMetric(median(spans), "makespan-median-s")
	b.ReportMetric(float64(first.pve), "pve-calls-first")
	b.ReportMetric(float64(first.routeros), "routeros-calls-first")
	b.ReportMetric(float64(first.ssh), "ssh-commands-first")
	b.ReportMetric(float64(again.pve), "pve-calls-rerun")
	b.ReportMetric(float64(again.routeros), "routeros-calls-rerun")
	b.ReportMetric(float64(again.ssh), "ssh-commands-rerun")
}

// median is the middle value of xs (the mean of the two middle ones).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
