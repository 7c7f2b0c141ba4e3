package kubeadm

import (
	"context"
	"fmt"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// attach gives every step of the sequence its work: over SSH, and on the
// router for kubernetes.pin: router-dns (without DNSRecord those two steps
// keep none, and the engine refuses to run them).
func (p Phase) attach(inv *inventory.Inventory, steps []*step.Step) error {
	k := inv.Kubernetes
	v, err := ParseVersion(k.Version)
	if err != nil {
		return err
	}
	vip, _ := inv.VIP(k.EndpointVIP)
	masters, workers := inv.ControlPlanes(), inv.Workers()
	var names, masterNames []string
	for _, m := range masters {
		masterNames = append(masterNames, m.Name)
	}
	names = append(names, masterNames...)
	for _, w := range workers {
		names = append(names, w.Name)
	}
	path := inventory.ExpandHome(p.kubeconfigPath(inv))
	t := p.Timeouts.withDefaults()
	reach := nodes{dial: p.Hosts, silence: &remote.Silence{For: observeTimeout}, masters: masters, chosen: &managers{}}
	if p.Running != nil {
		reach.running = func(ctx context.Context, node string) (bool, error) {
			g, ok := inv.Guest(node)
			if !ok {
				return false, fmt.Errorf("no guest %q in the inventory", node)
			}
			return p.Running(ctx, g)
		}
	}
	waitFor := func(what string, timeout time.Duration) step.Wait {
		return step.Wait{What: what, Timeout: timeout, Poll: t.Poll, Sleep: p.Sleep}
	}
	b := &bootstrap{inv: inv, hosts: reach, master: masters[0], creds: newCredentials(p.Now), timeouts: t, kubeconfig: path, missing: p.Missing}
	m1 := masters[0].Name

	byID := map[step.ID]func(s *step.Step) step.Work{
		initID(m1): func(s *step.Step) step.Work { return initWork{bootstrap: b, intent: s.Intent, restore: p.Restore} },
		apiGateID(m1): func(*step.Step) step.Work {
			return apiserverGate{hosts: reach, master: m1, node: masters[0],
				gate: waitFor(apiserverURL(masters[0].IP)+" to answer ok", t.APIServer)}
		},
		GateControlPlane: func(*step.Step) step.Work {
			return controlPlaneGate{bootstrap: b, gate: waitFor(fmt.Sprintf("every apiserver (%d) ready and etcd with exactly the control planes as started voting members", len(masters)), t.ControlPlane)}
		},
		GateVIPReady: func(*step.Step) step.Work {
			return vipGate{bootstrap: b, name: k.Endpoint, vip: vip.Address, backends: p.Backends,
				gate: waitFor(fmt.Sprintf("https://%s:%d/readyz through the VIP %s and every control plane up in HAProxy", k.Endpoint, APIServerPort, vip.Address), t.VIP)}
		},
		RestartKubeProxy: func(*step.Step) step.Work {
			return kubeProxyWork{hosts: reach, master: masters[0], vip: vip.Address, timeout: t}
		},
		GateEndpoint: func(*step.Step) step.Work {
			return endpointGate{hosts: reach, name: k.Endpoint, vip: vip.Address, controlPlanes: masterNames, nodes: presentNames(names, p.Missing),
				gate: waitFor(fmt.Sprintf("%s to resolve to %s and answer /readyz from every node", k.Endpoint, vip.Address), t.Endpoint)}
		},
		step.ID("kube/cni/" + inventory.CNICalico): func(s *step.Step) step.Work {
			return cniWork{hosts: reach, master: masters[0], version: k.CNI.Version, intent: s.Intent}
		},
		GateNodesReady: func(*step.Step) step.Work {
			what := fmt.Sprintf("every node (%d) to be Ready", len(names))
			ready := presentNames(names, p.Missing)
			if len(p.Missing) > 0 {
				what = fmt.Sprintf("every node that runs (%d of %d) to be Ready", len(ready), len(names))
			}
			return nodesGate{bootstrap: b, nodes: ready, gate: waitFor(what, t.NodesReady)}
		},
		Kubeconfig: func(s *step.Step) step.Work {
			return kubeconfigWork{hosts: reach, master: m1, path: path, server: fmt.Sprintf("https://%s:%d", k.Endpoint, APIServerPort), intent: s.Intent}
		},
	}
	for _, n := range append(append([]*inventory.Guest{}, masters...), workers...) {
		byID[prepareID(n.Name)] = func(s *step.Step) step.Work {
			return prepareWork{hosts: reach, node: n.Name, spec: specFor(k, v), intent: s.Intent}
		}
		byID[bridgeID(n.Name)] = func(s *step.Step) step.Work {
			return bridgeWork{inv: inv, hosts: reach, master: masters[0], node: n.Name, intent: s.Intent,
				gate: waitFor(n.Name+"'s Node to have a spec.podCIDR", t.NodesReady)}
		}
		if k.Pin == PinHosts {
			byID[pinID(n.Name)] = func(s *step.Step) step.Work {
				return hostsWork{hosts: reach, node: n.Name, name: k.Endpoint, addr: masters[0].IP, intent: s.Intent,
					vip: vip.Address, behindVIP: clusterBehindVIP(reach, masters, vip.Address)}
			}
			byID[flipID(n.Name)] = func(s *step.Step) step.Work {
				return hostsWork{hosts: reach, node: n.Name, name: k.Endpoint, addr: vip.Address, flip: true, intent: s.Intent}
			}
		}
	}
	if k.Pin == PinRouterDNS && p.DNSRecord != nil {
		byID[PinRouterRecord] = func(*step.Step) step.Work {
			return pinRecordWork{record: p.DNSRecord(inv, PinRouterRecord, k.Endpoint, masters[0].IP.String())}
		}
		byID[FlipRouterRecord] = func(*step.Step) step.Work {
			return p.DNSRecord(inv, PinRouterRecord, k.Endpoint, vip.Address.String())
		}
	}
	for _, m := range masters[1:] {
		byID[joinID(m.Name)] = func(s *step.Step) step.Work {
			return joinWork{bootstrap: b, node: m, controlPlane: true, intent: s.Intent}
		}
	}
	for _, w := range workers {
		byID[joinID(w.Name)] = func(s *step.Step) step.Work {
			return joinWork{bootstrap: b, node: w, intent: s.Intent}
		}
	}
	for _, s := range steps {
		if work, ok := byID[s.ID]; ok {
			s.Work = work(s)
		}
	}
	return nil
}
