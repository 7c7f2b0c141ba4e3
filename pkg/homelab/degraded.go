package homelab

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/proxmox"
	"github.com/homelabctl/homelab/pkg/step"
)

// DegradedError ends a run that built everything it could reach while
// Proxmox nodes were offline (an N-1 run): the guests on those nodes, and
// every step of theirs, were skipped. Nothing was moved to another node.
// Run up again once the nodes are back; it builds what is missing.
type DegradedError struct {
	// Unreachable are the offline nodes and the guests they hold.
	Unreachable []plan.UnreachableNode
	// Skipped are the steps that did nothing because of them.
	Skipped []step.ID
}

func (e *DegradedError) Error() string {
	var parts []string
	for _, u := range e.Unreachable {
		parts = append(parts, fmt.Sprintf("node %s is offline (not built: %s)", u.Node, strings.Join(u.Guests, ", ")))
	}
	return fmt.Sprintf("degraded: %s; %d steps skipped; the rest is built; run up again when the node is back",
		strings.Join(parts, "; "), len(e.Skipped))
}

// Missing returns the guests that were not built.
func (e *DegradedError) Missing() []string {
	var out []string
	for _, u := range e.Unreachable {
		out = append(out, u.Guests...)
	}
	return out
}

// QuorumError refuses a degraded plan that could not build a working
// cluster: too many control planes, or every load balancer, on offline
// nodes.
type QuorumError struct {
	Reason string
}

func (e *QuorumError) Error() string { return "refused before any change: " + e.Reason }

// unreachable reads which of the inventory's Proxmox nodes are offline
// and returns them with the guests they hold (nil when every node is up).
func unreachable(ctx context.Context, inv *inventory.Inventory, c *proxmox.Client) ([]plan.UnreachableNode, error) {
	offline, err := c.OfflineNodes(ctx)
	if err != nil {
		return nil, err
	}
	var out []plan.UnreachableNode
	for _, n := range inv.Proxmox.Nodes {
		if !slices.Contains(offline, n.Name) {
			continue
		}
		u := plan.UnreachableNode{Node: n.Name, Guests: []string{}}
		for _, g := range inv.Guests {
			if g.Node == n.Name {
				u.Guests = append(u.Guests, g.Name)
			}
		}
		out = append(out, u)
	}
	return out, nil
}

// missingGuests are the guests of the unreachable nodes.
func missingGuests(us []plan.UnreachableNode) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Guests...)
	}
	return out
}

// checkQuorum refuses a degraded run that could not end with a working
// cluster: etcd needs a majority of the control planes, and the VIPs need
// a load balancer.
func checkQuorum(inv *inventory.Inventory, missing []string) error {
	count := func(gs []*inventory.Guest) (all, off int, names []string) {
		for _, g := range gs {
			if slices.Contains(missing, g.Name) {
				off++
				names = append(names, g.Name)
			}
		}
		return len(gs), off, names
	}
	if inv.Kubernetes != nil {
		all, off, names := count(inv.ControlPlanes())
		if all > 0 && all-off < all/2+1 {
			return &QuorumError{Reason: fmt.Sprintf("%d of %d control planes (%s) are on offline Proxmox nodes: etcd needs %d of %d to run; bring a node back first",
				off, all, strings.Join(names, ", "), all/2+1, all)}
		}
	}
	if inv.LoadBalancer != nil {
		if all, off, names := count(inv.LoadBalancers()); all > 0 && off == all {
			return &QuorumError{Reason: fmt.Sprintf("every load balancer (%s) is on an offline Proxmox node: nothing could hold the VIPs; bring a node back first", strings.Join(names, ", "))}
		}
	}
	return nil
}

// skipUnreachable gives every step of a guest on an offline node work
// that does nothing and says why; the steps that need them still run.
// A step is a guest's when its ID names the guest after its kind
// (guest/lb-2, guest/lb-2/boot, lb/haproxy/lb-2, kube/join/master-3); the
// router's steps (router/lease/lb-2) are not: the router is up.
func skipUnreachable(p *plan.Plan, us []plan.UnreachableNode) {
	for _, u := range us {
		for _, s := range p.Graph().Steps() {
			parts := strings.Split(string(s.ID), "/")
			if parts[0] == "router" {
				continue
			}
			for _, g := range u.Guests {
				if slices.Contains(parts[1:], g) {
					s.Work = unreachableWork{guest: g, node: u.Node}
					break
				}
			}
		}
	}
}

// unreachableWork is the work of a step whose guest is on an offline
// Proxmox node: it changes nothing.
type unreachableWork struct {
	guest, node string
}

func (w unreachableWork) Observe(context.Context) (step.Change, error) {
	return step.Change{Action: step.Skip, Reason: fmt.Sprintf("skipped: %s is on Proxmox node %s, which is offline", w.guest, w.node)}, nil
}

func (w unreachableWork) Apply(context.Context, step.Change, io.Writer) error { return nil }

// degraded turns a run of a plan with unreachable nodes that succeeded
// into a *DegradedError naming what is missing.
func degraded(p *plan.Plan, res *engine.Result, err error) error {
	if err != nil || len(p.Unreachable) == 0 || res == nil {
		return err
	}
	e := &DegradedError{Unreachable: p.Unreachable}
	for _, s := range res.Steps {
		if s.Change.Action == step.Skip {
			e.Skipped = append(e.Skipped, s.ID)
		}
	}
	return e
}
