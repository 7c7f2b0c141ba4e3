package kubeadm

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// everyRun is a gate's change before it looks.
const everyRun = "a gate: checked on every run"

// observeGate is a gate's Observe: its Run, after one look while a plan
// observes (step.Wait.Observe), under observeTimeout.
func observeGate(ctx context.Context, w step.Wait, look step.Look) step.Change {
	return w.Observe(ctx, gateChange(everyRun), func(ctx context.Context) (bool, string, error) {
		octx, cancel := context.WithTimeout(ctx, observeTimeout)
		defer cancel()
		return look(octx)
	})
}

// apiserverGate waits until an apiserver answers /readyz by its own IP,
// verified against the cluster CA.
type apiserverGate struct {
	hosts  nodes
	master string // where curl runs
	node   *inventory.Guest
	gate   step.Wait
}

func apiserverURL(ip netip.Addr) string {
	return fmt.Sprintf("https://%s/readyz", netip.AddrPortFrom(ip, APIServerPort))
}

// lookReadyz runs a /readyz curl and reports whether it answered ok.
func lookReadyz(ctx context.Context, h remote.Host, script string) (bool, string, error) {
	out, err := run(ctx, h, command{script: script})
	if err != nil && !exited(err) {
		return false, "", err
	}
	out = strings.TrimSpace(out)
	if out == "" {
		out = "no answer"
	}
	return out == "ok", out, nil
}

// HostReads declares the gate's look.
func (g apiserverGate) HostReads() []step.HostRead {
	return []step.HostRead{{Host: g.master, Script: readyz(apiserverURL(g.node.IP), caFile, "")}}
}

func (g apiserverGate) Observe(ctx context.Context) (step.Change, error) {
	return observeGate(ctx, g.gate, func(ctx context.Context) (bool, string, error) {
		if !g.hosts.answers(ctx, g.master) {
			return false, g.master + " does not answer", nil
		}
		return g.look(ctx)
	}), nil
}

func (g apiserverGate) look(ctx context.Context) (bool, string, error) {
	h, err := g.hosts.dial(g.master)
	if err != nil {
		return false, "", err
	}
	url := apiserverURL(g.node.IP)
	ok, seen, err := lookReadyz(ctx, h, readyz(url, caFile, ""))
	if ok {
		seen = url + " answers ok"
	}
	return ok, seen, err
}

func (g apiserverGate) Apply(ctx context.Context, c step.Change, out io.Writer) error {
	return g.gate.Apply(ctx, c, out, g.look)
}

// controlPlaneGate waits until every apiserver is ready and etcd has
// exactly the control planes as started voting members. In a degraded run
// the control planes on offline Proxmox nodes (missing) are not asked for:
// the others must be ready and make a quorum.
type controlPlaneGate struct {
	*bootstrap
	gate step.Wait
}

// HostReads declares the gate's looks through master1: every running
// apiserver's /readyz and etcd's members.
func (g controlPlaneGate) HostReads() []step.HostRead {
	reads := g.hosts.managerReads()
	for _, m := range present(g.inv.ControlPlanes(), g.missing) {
		reads = append(reads, step.HostRead{Host: g.master.Name, Script: readyz(apiserverURL(m.IP), caFile, "")})
	}
	return append(reads, step.HostRead{Host: g.master.Name, Script: memberList(g.master)})
}

func (g controlPlaneGate) Observe(ctx context.Context) (step.Change, error) {
	return observeGate(ctx, g.gate, g.look), nil
}

func (g controlPlaneGate) Apply(ctx context.Context, c step.Change, out io.Writer) error {
	return g.gate.Apply(ctx, c, out, g.look)
}

func (g controlPlaneGate) look(ctx context.Context) (bool, string, error) {
	masters := g.inv.ControlPlanes()
	running := present(masters, g.missing)
	mg, m1, err := g.hosts.manager(ctx)
	if noManager(err) {
		return false, err.Error(), nil
	}
	if err != nil {
		return false, "", err
	}
	if len(running) < quorum(len(masters)) {
		return false, fmt.Sprintf("%d of %d control planes run, fewer than a quorum of %d", len(running), len(masters), quorum(len(masters))), nil
	}
	for _, m := range running {
		ok, seen, err := lookReadyz(ctx, m1, readyz(apiserverURL(m.IP), caFile, ""))
		if err != nil || !ok {
			return false, fmt.Sprintf("%s: %s", apiserverURL(m.IP), seen), err
		}
	}
	members, err := members(ctx, mg, m1)
	if err != nil {
		if exited(err) {
			return false, err.Error(), nil
		}
		return false, "", err
	}
	if problem := memberProblem(members, masters, g.missing); problem != "" {
		return false, problem, nil
	}
	if len(g.missing) > 0 {
		return true, fmt.Sprintf("%d of %d apiservers ready, a quorum (%s offline); etcd members: %s", len(running), len(masters), strings.Join(g.missing, ", "), membersString(members)), nil
	}
	return true, fmt.Sprintf("%d apiservers ready; etcd members: %s", len(masters), membersString(members)), nil
}

func membersString(members []member) string {
	var s []string
	for _, m := range members {
		s = append(s, m.String())
	}
	return strings.Join(s, ", ")
}

// vipGate waits until the name answers /readyz on the VIP through HAProxy
// (verified with the cluster CA for the name, without /etc/hosts) and
// every load balancer reports every control plane up; in a degraded run,
// every load balancer that runs reports every control plane that runs up.
type vipGate struct {
	*bootstrap
	name     string
	vip      netip.Addr
	backends Backends // nil: HAProxy's view is not checked
	gate     step.Wait
}

// readyz is the gate's curl: the name on the VIP, without /etc/hosts.
func (g vipGate) readyz() string {
	url := fmt.Sprintf("https://%s:%d/readyz", g.name, APIServerPort)
	return readyz(url, caFile, fmt.Sprintf("%s:%d:%s", g.name, APIServerPort, g.vip))
}

// HostReads declares the gate's curl through master1.
func (g vipGate) HostReads() []step.HostRead {
	return append(g.hosts.managerReads(), step.HostRead{Host: g.master.Name, Script: g.readyz()})
}

// Observe looks while a plan observes, asking HAProxy only on the load
// balancers that run and answer.
func (g vipGate) Observe(ctx context.Context) (step.Change, error) {
	return observeGate(ctx, g.gate, func(ctx context.Context) (bool, string, error) {
		for _, lb := range present(g.inv.LoadBalancers(), g.missing) {
			if g.backends != nil && !g.hosts.answers(ctx, lb.Name) {
				return false, lb.Name + " does not answer", nil
			}
		}
		return g.look(ctx)
	}), nil
}

func (g vipGate) Apply(ctx context.Context, c step.Change, out io.Writer) error {
	return g.gate.Apply(ctx, c, out, g.look)
}

func (g vipGate) look(ctx context.Context) (bool, string, error) {
	url := fmt.Sprintf("https://%s:%d/readyz", g.name, APIServerPort)
	_, m1, err := g.hosts.manager(ctx)
	if noManager(err) {
		return false, err.Error(), nil
	}
	if err != nil {
		return false, "", err
	}
	ok, seen, err := lookReadyz(ctx, m1, g.readyz())
	if err != nil || !ok {
		return false, fmt.Sprintf("%s through %s: %s", url, g.vip, seen), err
	}
	if g.inv.LoadBalancer == nil || g.backends == nil {
		return true, url + " answers ok through " + g.vip.String(), nil
	}
	masters := guestNames(present(g.inv.ControlPlanes(), g.missing))
	for _, lb := range present(g.inv.LoadBalancers(), g.missing) {
		down, err := g.backends(ctx, g.inv, lb, masters)
		if err != nil {
			return false, err.Error(), nil
		}
		if down != "" {
			return false, lb.Name + ": " + down, nil
		}
	}
	if len(g.missing) > 0 {
		return true, fmt.Sprintf("%s answers ok through %s and every load balancer that runs has every control plane that runs up (%s offline)", url, g.vip, strings.Join(g.missing, ", ")), nil
	}
	return true, fmt.Sprintf("%s answers ok through %s and every load balancer has every control plane up", url, g.vip), nil
}

// nodesGate waits until every node is Ready.
type nodesGate struct {
	*bootstrap
	nodes []string
	gate  step.Wait
}

// HostReads declares the gate's kubectl through master1.
func (g nodesGate) HostReads() []step.HostRead {
	return append(g.hosts.managerReads(), step.HostRead{Host: g.master.Name, Script: kubectl(g.master, "get nodes --no-headers")})
}

func (g nodesGate) Observe(ctx context.Context) (step.Change, error) {
	return observeGate(ctx, g.gate, g.look), nil
}

func (g nodesGate) Apply(ctx context.Context, c step.Change, out io.Writer) error {
	return g.gate.Apply(ctx, c, out, g.look)
}

func (g nodesGate) look(ctx context.Context) (bool, string, error) {
	mg, m1, err := g.hosts.manager(ctx)
	if noManager(err) {
		return false, err.Error(), nil
	}
	if err != nil {
		return false, "", err
	}
	res, err := run(ctx, m1, command{script: kubectl(mg, "get nodes --no-headers")})
	if err != nil {
		if exited(err) {
			return false, err.Error(), nil
		}
		return false, "", err
	}
	status := parseNodes(res)
	var notReady []string
	for _, n := range g.nodes {
		switch s, ok := status[n]; {
		case !ok:
			notReady = append(notReady, n+" is not a node")
		case s != "Ready":
			notReady = append(notReady, n+" is "+s)
		}
	}
	if len(notReady) > 0 {
		return false, strings.Join(notReady, ", "), nil
	}
	return true, fmt.Sprintf("%d nodes Ready", len(g.nodes)), nil
}

// parseNodes reads `kubectl get nodes --no-headers`: name -> status.
func parseNodes(out string) map[string]string {
	nodes := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			nodes[f[0]] = f[1]
		}
	}
	return nodes
}
