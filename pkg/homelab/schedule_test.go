package homelab

import (
	"context"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	simpve "github.com/homelabctl/homelab/pkg/sim/pve"
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
// at most capacity at a time, so the key's total work divided by its
// capacity is a floor on the makespan (one clone per template at a time).
func lockBound(g *step.Graph, res *engine.Result) time.Duration {
	took := map[step.ID]time.Duration{}
	for _, s := range res.Steps {
		took[s.ID] = s.Ended.Sub(s.Started)
	}
	work := map[string]time.Duration{}
	capacity := map[string]int{}
	for _, s := range g.Steps() {
		for _, l := range s.Locks {
			work[l.Key] += took[s.ID]
			capacity[l.Key] = max(l.Capacity, 1)
		}
	}
	var bound time.Duration
	for key, w := range work {
		bound = max(bound, w/time.Duration(capacity[key]))
	}
	return bound
}

// BenchmarkUpSchedules builds the reference lab's router and guests on the
// simulated lab with realistic PVE task latencies scaled down 100 times,
// and reports, from the same runs: homelab's makespan (a step starts when
// what it needs is done), the lower bound of the same graph under the
// measured step durations (the longer of its critical path and the work
// behind its busiest lock key), and the makespan of a phase-by-phase
// schedule (--strict-order: each phase waits for the whole previous one).
// Multiply the times by 100 for the real lab.
func BenchmarkUpSchedules(b *testing.B) {
	inv, _, err := inventory.Load("../../inventories/rachuna-net.yaml")
	if err != nil {
		b.Fatal(err)
	}
	file, err := plan.LoadFile("../../plans/infrastructure.yaml")
	if err != nil {
		b.Fatal(err)
	}
	latency := simpve.RealisticLatency()
	latency.Scale = 0.01
	run := func(strict bool) (time.Duration, time.Duration) {
		lab, err := Simulate(context.Background(), inv, SimulateOptions{Latency: latency})
		if err != nil {
			b.Fatal(err)
		}
		defer lab.Close()
		begin := time.Now()
		p, res, err := Up(context.Background(), inv, file, ApplyOptions{Clients: lab.Clients(), Parallelism: 16, StrictOrder: strict})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(begin), max(criticalPath(p.Graph(), res), lockBound(p.Graph(), res))
	}
	var makespan, bound, phased time.Duration
	for b.Loop() {
		m, cp := run(false)
		s, _ := run(true)
		makespan, bound, phased = makespan+m, bound+cp, phased+s
	}
	n := time.Duration(b.N)
	b.ReportMetric((makespan / n).Seconds(), "makespan-s")
	b.ReportMetric((bound / n).Seconds(), "lower-bound-s")
	b.ReportMetric((phased / n).Seconds(), "phase-by-phase-s")
}
