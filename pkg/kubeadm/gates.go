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

// always is the Observe of a gate: it looks on every run.
type always struct{}

func (always) Observe(context.Context) (step.Change, error) {
	return gateChange("a gate: checked on every run"), nil
}

// apiserverGate waits until an apiserver answers /readyz by its own IP,
// verified against the cluster CA.
type apiserverGate struct {
	always
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

func (g apiserverGate) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	h, err := g.hosts.dial(g.master)
	if err != nil {
		return err
	}
	url := apiserverURL(g.node.IP)
	return g.gate.Until(ctx, out, func(ctx context.Context) (bool, string, error) {
		ok, seen, err := lookReadyz(ctx, h, readyz(url, caFile, ""))
		if ok {
			seen = url + " answers ok"
		}
		return ok, seen, err
	})
}

// controlPlaneGate waits until every apiserver is ready and etcd has
// exactly the control planes as started voting members. In a degraded run
// the control planes on offline Proxmox nodes (missing) are not asked for:
// the others must be ready and make a quorum.
type controlPlaneGate struct {
	always
	*bootstrap
	gate step.Wait
}

func (g controlPlaneGate) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	masters := g.inv.ControlPlanes()
	running := present(masters, g.missing)
	return g.gate.Until(ctx, out, func(ctx context.Context) (bool, string, error) {
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
	})
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
	always
	*bootstrap
	name     string
	vip      netip.Addr
	backends Backends // nil: HAProxy's view is not checked
	gate     step.Wait
}

func (g vipGate) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	url := fmt.Sprintf("https://%s:%d/readyz", g.name, APIServerPort)
	resolve := fmt.Sprintf("%s:%d:%s", g.name, APIServerPort, g.vip)
	return g.gate.Until(ctx, out, func(ctx context.Context) (bool, string, error) {
		_, m1, err := g.hosts.manager(ctx)
		if noManager(err) {
			return false, err.Error(), nil
		}
		if err != nil {
			return false, "", err
		}
		ok, seen, err := lookReadyz(ctx, m1, readyz(url, caFile, resolve))
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
	})
}

// nodesGate waits until every node is Ready.
type nodesGate struct {
	always
	*bootstrap
	nodes []string
	gate  step.Wait
}

func (g nodesGate) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	return g.gate.Until(ctx, out, func(ctx context.Context) (bool, string, error) {
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
	})
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
