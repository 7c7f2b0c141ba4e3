package homelab_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
	simpve "github.com/homelabctl/homelab/pkg/sim/pve"
	"github.com/homelabctl/homelab/pkg/simlab"
	"github.com/homelabctl/homelab/pkg/step"
)

// The honest lower bound of BenchmarkUpSchedules. Every step weighs what
// the simulated lab's latency model makes it wait, whatever the schedule:
//
//   - guest/X: the PVE tasks of X's create (qmclone, qmcreate, vzcreate,
//     qmconfig, resize), each as long as the PVE simulator's Latency says;
//   - guest/X/boot: its start task (qmstart, vzstart), plus the guest
//     agent's boot (Latency.AgentBoot) when the step read X's host key
//     through the agent, which answers only that long after the start;
//   - the one step of host X that runs apt (lb/packages/X, kube/prepare/X):
//     every apt-get update and package the host simulator paused for
//     (host.Latency, told through Spent);
//   - kube/init/X and kube/join/X: kubeadm's modelled init and join;
//     kube/gate/nodes-ready: a node's NodeReady after its join;
//   - everything else (RouterOS, files over SSH, gates): nothing.
//
// A VM whose cloud-init upgrades its packages at first boot holds apt's
// locks for simlab.FirstBootUpgrade after it started: its apt step
// cannot install before then. That is a virtual step cloud-init/X, as long
// as the start task and the upgrade, needing what the boot needs, and
// needed by X's apt step.
//
// The bound is the larger of the longest chain of needs under these
// weights, and, for each lock key, the shortest chain before any of its
// steps, plus their weights divided by the key's capacity, plus the
// shortest chain after them. No schedule can finish sooner: each step
// waits at least its weight after what it needs (the benchmark checks
// that each step of every run took at least its weight, and that no run
// finished below the bound).

// modelGraph is the step graph the bound is computed on: the plan's steps
// and the virtual cloud-init steps, with their needs, locks and weights.
type modelGraph struct {
	order  []step.ID // needs before dependents
	needs  map[step.ID][]step.ID
	locks  map[step.ID][]step.Lock
	weight map[step.ID]time.Duration
}

// aptLedger collects the apt pauses of a simulated lab's hosts.
type aptLedger struct {
	mu    sync.Mutex
	spent map[string]time.Duration
}

func (l *aptLedger) record(host string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spent == nil {
		l.spent = map[string]time.Duration{}
	}
	l.spent[host] += d
}

func (l *aptLedger) get(host string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.spent[host]
}

// isAptStep reports whether id is the step of a host that runs apt, and
// which host.
func isAptStep(id step.ID) (string, bool) {
	for _, prefix := range []string{"kube/prepare/", "lb/packages/"} {
		if h, ok := strings.CutPrefix(string(id), prefix); ok {
			return h, true
		}
	}
	return "", false
}

// modelledWeights weighs the steps of a run just made on lab (before
// anything else ran on it) by the latency model (see above).
func modelledWeights(g *step.Graph, res *engine.Result, inv *inventory.Inventory, lab *simlab.Lab, apt *aptLedger, opts simlab.Options) (*modelGraph, error) {
	m := &modelGraph{needs: map[step.ID][]step.ID{}, locks: map[step.ID][]step.Lock{}, weight: map[step.ID]time.Duration{}}
	byVMID := map[string]string{}
	// A clone's task names its template (as on PVE): it belongs to the
	// create step of a guest of that template that ran then (the
	// template's lock lets one at a time).
	type cloneOf struct{ node, vmid string }
	clones := map[cloneOf][]string{}
	for _, gu := range inv.Guests {
		byVMID[strconv.Itoa(gu.VMID)] = gu.Name
		if t, ok := inv.VMTemplate(gu.Template, gu.Node); ok && gu.Kind == inventory.KindVM {
			k := cloneOf{t.Node, strconv.Itoa(t.VMID)}
			clones[k] = append(clones[k], gu.Name)
		}
	}
	cloner := func(t simpve.TaskInfo) (string, bool) {
		for _, name := range clones[cloneOf{t.Node, t.ID}] {
			if r, ok := res.Get(step.GuestID(name)); ok && !t.Start.Before(r.Started) && !t.Start.After(r.Ended) {
				return name, true
			}
		}
		return "", false
	}
	started := map[string]time.Duration{} // start task per guest
	for _, t := range lab.Proxmox.Tasks() {
		name, ok := byVMID[t.ID]
		if t.Type == "qmclone" {
			name, ok = cloner(t)
		}
		if !ok || t.Running {
			continue
		}
		d := t.End.Sub(t.Start)
		switch t.Type {
		case "qmstart", "vzstart":
			m.weight[step.GuestBootID(name)] += d
			started[name] += d
		case "qmclone", "qmcreate", "vzcreate", "qmconfig", "resize":
			m.weight[step.GuestID(name)] += d
		}
	}
	agentBoot := time.Duration(float64(opts.Latency.AgentBoot) * opts.Latency.Scale)
	for _, r := range lab.Proxmox.Log() {
		for _, gu := range inv.Guests {
			if strings.HasSuffix(r.Path, fmt.Sprintf("/qemu/%d/agent/file-read", gu.VMID)) {
				if id := step.GuestBootID(gu.Name); m.weight[id] < started[gu.Name]+agentBoot {
					m.weight[id] = started[gu.Name] + agentBoot
				}
			}
		}
	}
	upgrading := map[string]bool{}
	for _, gu := range lab.Proxmox.Guests() {
		if name, ok := byVMID[strconv.Itoa(gu.VMID)]; ok && gu.Kind == "qemu" && gu.Config["ciupgrade"] != "0" {
			upgrading[name] = true
		}
	}
	for _, s := range g.Order() {
		id := s.ID
		if name, ok := strings.CutPrefix(string(id), "guest/"); ok && strings.HasSuffix(name, "/boot") {
			name = strings.TrimSuffix(name, "/boot")
			if upgrading[name] {
				ci := step.ID("cloud-init/" + name)
				m.order = append(m.order, ci)
				m.needs[ci] = s.Needs
				m.weight[ci] = started[name] + simlab.FirstBootUpgrade
			}
		}
	}
	for _, s := range g.Order() {
		id := s.ID
		m.order = append(m.order, id)
		m.needs[id] = s.Needs
		m.locks[id] = s.Locks
		switch {
		case strings.HasPrefix(string(id), "kube/init/"):
			m.weight[id] = opts.KubeLatency.Init
		case strings.HasPrefix(string(id), "kube/join/"):
			m.weight[id] = opts.KubeLatency.Join
		case id == "kube/gate/nodes-ready":
			m.weight[id] = opts.KubeLatency.NodeReady
		}
		if h, ok := isAptStep(id); ok {
			m.weight[id] = apt.get(h)
			if upgrading[h] {
				m.needs[id] = append(append([]step.ID(nil), s.Needs...), step.ID("cloud-init/"+h))
			}
		}
	}
	return m, nil
}

// below returns the steps of res that took less than their weight: the
// model would then not be a lower bound. Gates that wait for a time since
// an earlier step (nodes-ready) are bounded through that step's start, not
// their own, and are not checked.
func (m *modelGraph) below(res *engine.Result) []string {
	var out []string
	for _, s := range res.Steps {
		if s.ID == "kube/gate/nodes-ready" {
			continue
		}
		if took := s.Ended.Sub(s.Started); took < m.weight[s.ID] {
			out = append(out, fmt.Sprintf("%s took %s, modelled %s", s.ID, took, m.weight[s.ID]))
		}
	}
	return out
}

// keepLeast lowers m's weights to other's where other's are lower: the
// model of every run, taken together.
func (m *modelGraph) keepLeast(other *modelGraph) {
	for id, w := range other.weight {
		if old, ok := m.weight[id]; !ok || w < old {
			m.weight[id] = w
		}
	}
	for id := range m.weight {
		if _, ok := other.weight[id]; !ok {
			m.weight[id] = 0
		}
	}
}

// bound is the larger of the critical path and the busiest lock key.
func (m *modelGraph) bound() time.Duration {
	head := map[step.ID]time.Duration{} // longest chain of needs before a step
	var longest time.Duration
	for _, id := range m.order {
		for _, n := range m.needs[id] {
			head[id] = max(head[id], head[n]+m.weight[n])
		}
		longest = max(longest, head[id]+m.weight[id])
	}
	dependents := map[step.ID][]step.ID{}
	for _, id := range m.order {
		for _, n := range m.needs[id] {
			dependents[n] = append(dependents[n], id)
		}
	}
	tail := map[step.ID]time.Duration{} // longest chain of dependents after a step
	for i := len(m.order) - 1; i >= 0; i-- {
		id := m.order[i]
		for _, d := range dependents[id] {
			tail[id] = max(tail[id], m.weight[d]+tail[d])
		}
	}
	type keyed struct {
		work       time.Duration
		head, tail time.Duration
		capacity   int
		seen       bool
	}
	keys := map[string]*keyed{}
	for _, id := range m.order {
		for _, l := range m.locks[id] {
			k := keys[l.Key]
			if k == nil {
				k = &keyed{capacity: max(l.Capacity, 1)}
				keys[l.Key] = k
			}
			if !k.seen || head[id] < k.head {
				k.head = head[id]
			}
			if !k.seen || tail[id] < k.tail {
				k.tail = tail[id]
			}
			k.seen = true
			k.work += m.weight[id]
		}
	}
	for _, k := range keys {
		longest = max(longest, k.head+k.work/time.Duration(k.capacity)+k.tail)
	}
	return longest
}

// The bound is the longer of the chain of needs and the work behind the
// busiest lock key at its capacity, with the shortest chains before and
// after that key's steps.
func TestModelBound(t *testing.T) {
	ms := time.Millisecond
	node := func(c int) []step.Lock { return []step.Lock{{Key: "node", Capacity: c}} }
	cases := []struct {
		name   string
		m      modelGraph
		expect time.Duration
	}{
		{"a chain", modelGraph{order: []step.ID{"a", "b", "c"},
			needs:  map[step.ID][]step.ID{"b": {"a"}, "c": {"b"}},
			weight: map[step.ID]time.Duration{"a": 10 * ms, "b": 20 * ms, "c": 5 * ms}}, 35 * ms},
		{"the longest of two chains", modelGraph{order: []step.ID{"a", "b", "c"},
			needs:  map[step.ID][]step.ID{"c": {"a", "b"}},
			weight: map[step.ID]time.Duration{"a": 10 * ms, "b": 30 * ms, "c": 5 * ms}}, 35 * ms},
		{"three independent steps through a lock of one", modelGraph{order: []step.ID{"a", "b", "c"},
			locks:  map[step.ID][]step.Lock{"a": node(1), "b": node(1), "c": node(1)},
			weight: map[step.ID]time.Duration{"a": 10 * ms, "b": 10 * ms, "c": 10 * ms}}, 30 * ms},
		{"a lock of two halves the work", modelGraph{order: []step.ID{"a", "b", "c", "d"},
			locks:  map[step.ID][]step.Lock{"a": node(2), "b": node(2), "c": node(2), "d": node(2)},
			weight: map[step.ID]time.Duration{"a": 10 * ms, "b": 10 * ms, "c": 10 * ms, "d": 10 * ms}}, 20 * ms},
		{"the shortest chains before and after the locked steps", modelGraph{order: []step.ID{"pre", "a", "b", "post"},
			needs:  map[step.ID][]step.ID{"a": {"pre"}, "b": {"pre"}, "post": {"a", "b"}},
			locks:  map[step.ID][]step.Lock{"a": node(1), "b": node(1)},
			weight: map[step.ID]time.Duration{"pre": 5 * ms, "a": 10 * ms, "b": 10 * ms, "post": 7 * ms}}, 32 * ms},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.m.bound(); got != c.expect {
				t.Errorf("bound %s, want %s", got, c.expect)
			}
		})
	}
}
