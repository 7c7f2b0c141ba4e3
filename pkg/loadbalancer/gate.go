package loadbalancer

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// vipGate waits until exactly one load balancer holds a VIP: none means
// keepalived is not up (or HAProxy's check fails everywhere), two means
// the nodes do not hear each other (split brain). In a degraded run lbs
// are the load balancers that run; offline counts the others.
type vipGate struct {
	hosts   HostDialer
	silence *remote.Silence                              // the load balancers that did not answer a moment ago
	running func(ctx context.Context, guest string) bool // nil: not known
	lbs     []string
	offline int
	name    string
	vip     netip.Addr
	timeout time.Duration
	poll    time.Duration
	sleep   func(context.Context, time.Duration) error
}

// addrScript lists a host's addresses: where a VIP is held.
const addrScript = "ip -o addr show"

// HostReads declares the look at each load balancer's addresses, so that
// a plan gathers it with the host's other facts (every VIP gate makes
// the same one).
func (g vipGate) HostReads() []step.HostRead {
	reads := make([]step.HostRead, len(g.lbs))
	for i, lb := range g.lbs {
		reads[i] = step.HostRead{Host: lb, Script: addrScript}
	}
	return reads
}

// Observe looks once while a plan observes (see step.Wait.Observe), and
// only where every load balancer runs and answers: a VIP held then is
// not looked for again by a run that changes nothing it needs.
func (g vipGate) Observe(ctx context.Context) (step.Change, error) {
	c := step.Change{Action: step.Run, Reason: "a gate: checked on every run"}
	return g.wait().Observe(ctx, c, func(ctx context.Context) (bool, string, error) {
		for _, lb := range g.lbs {
			if g.silence.Quiet(lb) || g.running != nil && !g.running(ctx, lb) {
				return false, lb + " does not run or answer", nil
			}
		}
		octx, cancel := context.WithTimeout(ctx, observeTimeout)
		defer cancel()
		return g.look(octx)
	}), nil
}

// Holders returns the load balancers that have the VIP on an interface.
func (g vipGate) holders(ctx context.Context) ([]string, error) {
	var out []string
	for _, lb := range g.lbs {
		h, err := g.hosts(lb)
		if err != nil {
			return nil, err
		}
		res, err := h.Run(ctx, remote.Command{Script: addrScript, Timeout: 30 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", lb, err)
		}
		for _, line := range strings.Split(string(res.Stdout), "\n") {
			f := strings.Fields(line)
			if len(f) >= 4 && (f[2] == "inet" || f[2] == "inet6") && strings.HasPrefix(f[3], g.vip.String()+"/") {
				out = append(out, lb)
				break
			}
		}
	}
	return out, nil
}

func (g vipGate) wait() step.Wait {
	timeout := g.timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	return step.Wait{What: fmt.Sprintf("exactly one load balancer to hold VIP %s (%s)", g.name, g.vip), Timeout: timeout, Poll: g.poll, Sleep: g.sleep}
}

// look is one look at who holds the VIP.
func (g vipGate) look(ctx context.Context) (bool, string, error) {
	holders, err := g.holders(ctx)
	switch {
	case err != nil:
		return false, "", err
	case len(holders) == 1 && g.offline > 0:
		return true, fmt.Sprintf("VIP %s (%s) is held by %s, one of the %d load balancers that run (%d on offline nodes)", g.name, g.vip, holders[0], len(g.lbs), g.offline), nil
	case len(holders) == 1:
		return true, fmt.Sprintf("VIP %s (%s) is held by %s", g.name, g.vip, holders[0]), nil
	case len(holders) > 1:
		return false, "it is held by " + strings.Join(holders, " and ") + " at once (do the nodes hear each other's VRRP?)", nil
	}
	return false, "no load balancer holds it", nil
}

func (g vipGate) Apply(ctx context.Context, c step.Change, out io.Writer) error {
	return g.wait().Apply(ctx, c, out, g.look)
}

// BackendStates reads HAProxy's view of its backends on a load balancer:
// the admin socket through socat where the host has it, else the stats
// page's CSV export. A server counts as up only after a completed check
// (see ServerStatus.Up).
func BackendStates(ctx context.Context, h remote.Host, inv *inventory.Inventory, lb *inventory.Guest) ([]BackendStatus, error) {
	socket := inv.LoadBalancer.Stats.Socket
	script := "echo 'show stat' | socat stdio " + remote.Quote("unix-connect:"+socket)
	if port := inv.LoadBalancer.Stats.Port; port > 0 {
		url := fmt.Sprintf("http://%s%s;csv", netip.AddrPortFrom(lb.IP, uint16(port)), StatsURI)
		script = "if command -v socat >/dev/null; then " + script + "; else curl -sf --max-time 5 " + remote.Quote(url) + "; fi"
	}
	res, err := h.Run(ctx, remote.Command{Script: script, Timeout: 30 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("%s: read HAProxy's backend states: %w", lb.Name, err)
	}
	return ParseStats(res.Stdout)
}
