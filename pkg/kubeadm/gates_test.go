package kubeadm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// answer is what a scripted host prints for one script, and its exit
// status.
type answer struct {
	out    string
	status int
}

// scriptHost answers the scripts it knows as real curl, kubectl and
// etcdctl print; it counts the commands it ran.
type scriptHost struct {
	name    string
	mu      sync.Mutex
	answers map[string]answer
	ran     int
}

func (h *scriptHost) Run(_ context.Context, cmd remote.Command) (remote.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ran++
	a, ok := h.answers[cmd.Script]
	if !ok {
		return remote.Result{ExitStatus: 127}, &remote.ExitError{Host: h.name, Command: cmd.Script, Status: 127, Stderr: "unexpected command"}
	}
	res := remote.Result{Stdout: []byte(a.out), ExitStatus: a.status}
	if a.status != 0 {
		return res, &remote.ExitError{Host: h.name, Command: cmd.Script, Status: a.status}
	}
	return res, nil
}

func (h *scriptHost) Sync(context.Context, remote.File) (bool, error) { return false, nil }
func (h *scriptHost) Read(context.Context, string) ([]byte, error)    { return nil, errors.New("no") }
func (h *scriptHost) Close() error                                    { return nil }

func (h *scriptHost) commands() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ran
}

// healthyCluster is master1 of a cluster whose control planes all answer
// and whose etcd members are all started voters.
func healthyCluster(masters []*inventory.Guest) map[string]answer {
	m1 := masters[0]
	a := map[string]answer{probeScript(m1): {"ok", 0}}
	var members []string
	for i, m := range masters {
		a[readyz(apiserverURL(m.IP), caFile, "")] = answer{"ok", 0}
		members = append(members, fmt.Sprintf(`{"ID":%d,"name":%q,"peerURLs":["https://%s:2380"],"clientURLs":["https://%s:2379"]}`, 1000+i, m.Name, m.IP, m.IP))
	}
	a[memberList(m1)] = answer{`{"header":{"cluster_id":1,"member_id":1000,"raft_term":2},"members":[` + strings.Join(members, ",") + `]}`, 0}
	var nodes []string
	for _, m := range masters {
		nodes = append(nodes, m.Name+"   Ready    control-plane   5m   v1.34.2")
	}
	a[kubectl(m1, "get nodes --no-headers")] = answer{strings.Join(nodes, "\n") + "\n", 0}
	return a
}

// A gate looks while the plan observes and, when what it waits for is
// so, the run that takes that observation does not look again; when it
// is not (an apiserver down, an etcd member not started, a node not
// Ready), the gate still waits and fails saying what it saw, as before.
// Outside a plan Observe does not look: Apply is about to.
func TestGatesLookWhilePlanning(t *testing.T) {
	inv := loadInventory(t, "rachuna-net")
	masters := inv.ControlPlanes()
	m1, m2 := masters[0], masters[1]
	down := fmt.Sprintf("curl: (7) Failed to connect to %s port 6443 after 0 ms: Couldn't connect to server\n", m2.IP)
	for _, tc := range []struct {
		name   string
		gate   string
		change func(a map[string]answer)
		want   string // the run's error; "" when it passes
	}{
		{name: "ready", gate: "control planes"},
		{name: "apiserver down", gate: "control planes",
			change: func(a map[string]answer) { a[readyz(apiserverURL(m2.IP), caFile, "")] = answer{down, 7} },
			want:   fmt.Sprintf("last saw: https://%s:6443/readyz: curl: (7) Failed to connect to %s port 6443", m2.IP, m2.IP)},
		{name: "etcd member not started", gate: "control planes",
			change: func(a map[string]answer) {
				a[memberList(m1)] = answer{strings.Replace(a[memberList(m1)].out, `"name":"master-3",`, "", 1), 0}
			},
			want: "not started"},
		{name: "master1 down", gate: "control planes",
			change: func(a map[string]answer) {
				a[probeScript(m1)] = answer{fmt.Sprintf("curl: (7) Failed to connect to %s port 6443 after 0 ms: Couldn't connect to server\n", m1.IP), 7}
			},
			want: "no control plane answers for the cluster"},
		{name: "nodes ready", gate: "nodes"},
		{name: "a node not ready", gate: "nodes",
			change: func(a map[string]answer) {
				a[kubectl(m1, "get nodes --no-headers")] = answer{"master-1   Ready      control-plane   5m   v1.34.2\nmaster-2   NotReady   control-plane   5m   v1.34.2\nmaster-3   Ready   control-plane   5m   v1.34.2\n", 0}
			},
			want: "last saw: master-2 is NotReady"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := healthyCluster(masters)
			if tc.change != nil {
				tc.change(a)
			}
			h1 := &scriptHost{name: m1.Name, answers: a}
			// The other control planes say they are not initialised: only
			// master1 can be the manager.
			others := map[string]*scriptHost{}
			for _, m := range masters[1:] {
				others[m.Name] = &scriptHost{name: m.Name, answers: map[string]answer{probeScript(m): {"not-initialised\n", 0}}}
			}
			dial := func(node string) (remote.Host, error) {
				if node == m1.Name {
					return h1, nil
				}
				if h, ok := others[node]; ok {
					return h, nil
				}
				return nil, fmt.Errorf("no host %s", node)
			}
			b := &bootstrap{inv: inv, hosts: nodes{dial: dial, silence: &remote.Silence{}, masters: masters, chosen: &managers{}}, master: m1}
			wait := step.Wait{What: "the gate", Timeout: time.Nanosecond, Sleep: func(context.Context, time.Duration) error { return nil }}
			var gate step.Work = controlPlaneGate{bootstrap: b, gate: wait}
			if tc.gate == "nodes" {
				gate = nodesGate{bootstrap: b, nodes: guestNames(masters), gate: wait}
			}

			c, err := gate.Observe(context.Background())
			if err != nil || c.Action != step.Run || c.Passed != "" || h1.commands() != 0 {
				t.Fatalf("observed outside a plan: %+v %v, %d commands", c, err, h1.commands())
			}
			c, err = gate.Observe(step.WithPass(context.Background()))
			if err != nil || c.Action != step.Run {
				t.Fatalf("observed in a plan: %+v %v", c, err)
			}
			if passed := c.Passed != ""; passed != (tc.want == "") {
				t.Fatalf("passed while planning: %q, want passed %t", c.Passed, tc.want == "")
			}
			looked := h1.commands()
			var out bytes.Buffer
			err = gate.Apply(context.Background(), c, &out)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("apply: %v", err)
			case tc.want == "" && (h1.commands() != looked || !strings.Contains(out.String(), "(seen while planning)")):
				t.Errorf("apply looked again (%d commands after %d) or did not say what it saw: %q", h1.commands(), looked, out.String())
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("apply: %v, want an error containing %q", err, tc.want)
			case tc.want != "" && h1.commands() == looked:
				t.Error("apply did not look again")
			}
		})
	}
}

// The gates and the cluster's steps declare the manager's probe and the
// gates their looks, so that a plan gathers them with master1's facts.
func TestGatesDeclareTheirLooks(t *testing.T) {
	inv := loadInventory(t, "rachuna-net")
	masters := inv.ControlPlanes()
	b := &bootstrap{inv: inv, hosts: nodes{masters: masters}, master: masters[0]}
	reads := map[step.HostRead]bool{}
	for _, w := range []step.HostReader{controlPlaneGate{bootstrap: b}, nodesGate{bootstrap: b}, vipGate{bootstrap: b, name: "k8s-api.example", vip: inv.LoadBalancer.VIPs[0].Address}} {
		for _, r := range w.HostReads() {
			reads[r] = true
		}
	}
	for _, m := range masters {
		if !reads[step.HostRead{Host: m.Name, Script: probeScript(m)}] {
			t.Errorf("no probe of %s declared", m.Name)
		}
		if !reads[step.HostRead{Host: masters[0].Name, Script: readyz(apiserverURL(m.IP), caFile, "")}] {
			t.Errorf("no look at %s's apiserver declared", m.Name)
		}
	}
	for _, s := range []string{memberList(masters[0]), kubectl(masters[0], "get nodes --no-headers")} {
		if !reads[step.HostRead{Host: masters[0].Name, Script: s}] {
			t.Errorf("not declared: %s", s)
		}
	}
}
