package homelab_test

import (
	"context"
	"fmt"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/simlab"
	"runtime"
	"testing"
	"time"

	"github.com/homelabctl/homelab/internal/inventorygen"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
)

// BenchmarkUpScale brings a generated lab of 100 and of 1,000 guests on 30
// Proxmox nodes up on the simulated lab (plans/infrastructure: the router,
// then the guests, with instant simulated tasks), then runs it again
// converged. It reports the wall time per guest of the first up and of
// the re-run (a path that grows faster than the lab shows as a growing
// figure: 1,000 should cost at most 1.5× what 100 cost per guest), the
// PVE calls per guest, and the heap the run left in use.
func BenchmarkUpScale(b *testing.B) {
	file, err := plan.LoadFile("../../plans/infrastructure.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("guests=%d", n), func(b *testing.B) {
			inv, _, err := inventory.Parse("generated.yaml", inventorygen.Generate(30, n))
			if err != nil {
				b.Fatal(err)
			}
			var first, again time.Duration
			var calls, rerunCalls int
			var heap uint64
			for b.Loop() {
				b.StopTimer()
				lab, err := simlab.Start(context.Background(), inv)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				if _, _, err := Up(context.Background(), inv, file, ApplyOptions{Clients: lab.Clients()}); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				before := len(lab.Proxmox.Log())
				p, res, err := Up(context.Background(), inv, file, ApplyOptions{Clients: lab.Clients()})
				if err != nil {
					b.Fatal(err)
				}
				first, again = first+mid.Sub(start), again+time.Since(mid)
				b.StopTimer()
				if sum := p.Summary(); sum.Create+sum.Update+sum.Delete+sum.Conflict != 0 {
					b.Fatalf("the re-run of %d guests is not converged: %+v", n, sum)
				}
				_ = res
				calls += before
				rerunCalls += len(lab.Proxmox.Log()) - before
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heap = max(heap, ms.HeapInuse)
				lab.Close()
				b.StartTimer()
			}
			per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) / float64(n) * 1000 }
			b.ReportMetric(per(first), "ms/guest-up")
			b.ReportMetric(per(again), "ms/guest-rerun")
			b.ReportMetric(float64(calls)/float64(b.N)/float64(n), "pve-calls/guest-up")
			b.ReportMetric(float64(rerunCalls)/float64(b.N)/float64(n), "pve-calls/guest-rerun")
			b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
		})
	}
}
