package homelab_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/simlab"
	"github.com/homelabctl/homelab/pkg/step"
)

// infraAndLoadBalancers is plans/infrastructure.yaml plus the
// loadbalancers phase.
func infraAndLoadBalancers(t *testing.T) *plan.File {
	t.Helper()
	file, err := plan.LoadFile("testdata/infrastructure-loadbalancers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// outputSink collects the steps' output lines.
type outputSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *outputSink) Event(e engine.Event) {
	if e.Kind == engine.StepOutput {
		s.mu.Lock()
		s.lines = append(s.lines, string(e.Step)+": "+e.Line)
		s.mu.Unlock()
	}
}

// The router, the guests and the load balancers of an empty simulated lab
// in one plan, with the real phases over the real protocols (SSH to the
// simulated hosts): the run converges with one holder per VIP; a second
// plan changes nothing and its run only passes the gates.
func TestSimulatedLabUpToLoadBalancers(t *testing.T) {
	for _, name := range []string{"small", "rachuna-net"} {
		t.Run(name, func(t *testing.T) {
			inv := loadInventory(t, "../../inventories/"+name+".yaml")
			lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lab.Close() })
			ctx := context.Background()
			file := infraAndLoadBalancers(t)
			var out outputSink
			opts := ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(out.Event)}
			p, _, err := Up(ctx, inv, file, opts)
			if err != nil {
				t.Fatalf("up: %v\n%s", err, strings.Join(out.lines, "\n"))
			}
			// Planned on an empty lab: the load balancers did not answer
			// yet and show what they will get.
			if st, ok := p.Step(step.HAProxyID(inv.LoadBalancers()[0].Name)); !ok || st.Change.Action != step.Create ||
				!strings.Contains(st.Change.Reason, "does not answer SSH yet") || len(st.Change.Files) != 1 {
				t.Errorf("the first plan's haproxy step: %+v", st.Change)
			}
			for _, vip := range inv.LoadBalancer.VIPs {
				if h := lab.Hosts.Holders(ctx, vip.Address); len(h) != 1 {
					t.Errorf("VIP %s holders: %v", vip.Name, h)
				}
			}
			for _, g := range inv.LoadBalancers() {
				h, _ := lab.Hosts.Host(g.Name)
				if !h.Unit("haproxy").Active || !h.Unit("keepalived").Active {
					t.Errorf("%s: haproxy %+v keepalived %+v", g.Name, h.Unit("haproxy"), h.Unit("keepalived"))
				}
			}

			p, err = Plan(ctx, inv, file, PlanOptions{Clients: lab.Clients()})
			if err != nil {
				t.Fatal(err)
			}
			if sum := p.Summary(); sum.Create+sum.Update+sum.Delete+sum.Conflict != 0 || !p.Observed {
				t.Fatalf("second plan is not converged: %+v (observed %v)", sum, p.Observed)
			}
			out = outputSink{}
			if _, err := Run(ctx, p, opts.RunOptions()); err != nil {
				t.Fatal(err)
			}
			for _, line := range out.lines {
				if !strings.Contains(line, "is held by") && !strings.Contains(line, "answers on") {
					t.Errorf("a converged run did something: %s", line)
				}
			}

			// A run that stopped after installing haproxy.cfg and before
			// the reload left its marker: the next plan shows the step,
			// the run reloads, and the marker is gone.
			lb := inv.LoadBalancers()[0]
			h, _ := lab.Hosts.Host(lb.Name)
			if code := h.Run(ctx, "root", "mkdir -p /var/lib/homelab/pending && touch /var/lib/homelab/pending/etc_haproxy_haproxy.cfg", nil, nil, nil); code != 0 {
				t.Fatalf("leave a marker: exit %d", code)
			}
			p, err = Plan(ctx, inv, file, PlanOptions{Clients: lab.Clients()})
			if err != nil {
				t.Fatal(err)
			}
			if st, _ := p.Step(step.HAProxyID(lb.Name)); st.Change.Action != step.Update || !strings.Contains(st.Change.Reason, "stopped before the service took them up") {
				t.Fatalf("haproxy with a reload pending: %+v", st.Change)
			}
			out = outputSink{}
			if _, err := Run(ctx, p, opts.RunOptions()); err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(out.lines, func(l string) bool {
				return strings.HasPrefix(l, string(step.HAProxyID(lb.Name))+": reloaded haproxy.service")
			}) {
				t.Errorf("no reload in:\n%s", strings.Join(out.lines, "\n"))
			}
			if _, err := os.Stat(h.Root() + "/var/lib/homelab/pending/etc_haproxy_haproxy.cfg"); !os.IsNotExist(err) {
				t.Errorf("the marker stays: %v", err)
			}
		})
	}
}
