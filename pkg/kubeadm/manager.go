package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// ErrNoControlPlane is returned (wrapped, with what each control plane
// said) when no control plane answers for the cluster: none initialised
// yet, or none whose apiserver is ready.
var ErrNoControlPlane = errors.New("no control plane answers for the cluster")

// managers remembers the control plane the last cluster operation went
// through, so the next one asks it first, and takes it without asking
// again within managerFresh of its last answer.
type managers struct {
	mu   sync.Mutex
	last string
	at   time.Time
}

// managerFresh is how long an answer of a control plane's apiserver is
// trusted before it is asked again.
const managerFresh = 3 * time.Second

// probeTimeout bounds one look at a control plane.
const probeTimeout = 20 * time.Second

// manager returns the control plane that cluster operations (kubectl,
// etcdctl, kubeadm token and upload-certs) go through: the one that
// answered last, else the first in the inventory's order, that is
// initialised (its admin kubeconfig and apiserver manifest) and whose own
// apiserver answers /readyz. No control plane is fixed: a dead master1
// does not stop a run while another holds the cluster. Control planes
// that were silent a moment ago are passed over.
func (n nodes) manager(ctx context.Context) (*inventory.Guest, remote.Host, error) {
	order := slices.Clone(n.masters)
	if n.chosen != nil {
		n.chosen.mu.Lock()
		last, at := n.chosen.last, n.chosen.at
		n.chosen.mu.Unlock()
		if i := slices.IndexFunc(order, func(g *inventory.Guest) bool { return g.Name == last }); i >= 0 {
			if time.Since(at) < managerFresh {
				if h, err := n.dial(last); err == nil {
					return order[i], h, nil
				}
			}
			order = append(append([]*inventory.Guest{order[i]}, order[:i]...), order[i+1:]...)
		}
	}
	var seen []string
	for _, m := range order {
		if n.silence.Quiet(m.Name) {
			seen = append(seen, m.Name+": does not answer SSH")
			continue
		}
		if n.running != nil {
			if up, err := n.running(ctx, m.Name); err == nil && !up {
				seen = append(seen, m.Name+": not running")
				continue
			}
		}
		h, err := n.dial(m.Name)
		if err != nil {
			return nil, nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		out, err := run(pctx, h, command{script: probeScript(m), timeout: probeTimeout})
		cancel()
		switch got := strings.TrimSpace(out); {
		case err != nil && remote.NotAnswering(ctx, err):
			n.silence.Mark(m.Name)
			seen = append(seen, m.Name+": does not answer SSH")
		case err != nil && !exited(err):
			return nil, nil, fmt.Errorf("%s: %w", m.Name, err)
		case got == "ok":
			if n.chosen != nil {
				n.chosen.mu.Lock()
				n.chosen.last, n.chosen.at = m.Name, time.Now()
				n.chosen.mu.Unlock()
			}
			return m, h, nil
		case got == "not-initialised":
			seen = append(seen, m.Name+": not initialised")
		default:
			seen = append(seen, fmt.Sprintf("%s: %s answered %q", m.Name, apiserverURL(m.IP), got))
		}
	}
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	return nil, nil, fmt.Errorf("%w: %s", ErrNoControlPlane, strings.Join(seen, "; "))
}

// probeScript asks control plane m whether it is initialised and its own
// apiserver answers /readyz: "ok", "not-initialised", or what curl said.
func probeScript(m *inventory.Guest) string {
	return "test -f " + adminConf + " && test -f " + apiserverYAML + " || { echo not-initialised; exit 0; }; " +
		readyz(apiserverURL(m.IP), caFile, "")
}

// managerReads declares manager's probe of every control plane, so that a
// plan asks it in the facts command it runs there anyway (see
// step.HostReader): every step that goes through the manager declares it.
func (n nodes) managerReads() []step.HostRead {
	reads := make([]step.HostRead, len(n.masters))
	for i, m := range n.masters {
		reads[i] = step.HostRead{Host: m.Name, Script: probeScript(m)}
	}
	return reads
}

// answers reports whether node may be looked at now: it runs (when the
// hypervisor says) and did not fail to answer SSH a moment ago.
func (n nodes) answers(ctx context.Context, node string) bool {
	if n.silence.Quiet(node) {
		return false
	}
	if n.running != nil {
		if up, err := n.running(ctx, node); err == nil && !up {
			return false
		}
	}
	return true
}

// noManager reports whether err is manager finding no control plane.
func noManager(err error) bool { return errors.Is(err, ErrNoControlPlane) }
