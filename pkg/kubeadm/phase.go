package kubeadm

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeversion"
	"github.com/homelabctl/homelab/pkg/step"
)

// Phase is the "kubernetes" phase kind. Without Hosts its steps have no
// work: plans compile (offline) but do not observe or run.
type Phase struct {
	// Hosts logs in to the Kubernetes nodes and the load balancers.
	Hosts HostDialer
	// Running, when set, says whether the hypervisor runs a guest: steps
	// on a guest that does not run yet are planned as on a fresh node
	// without waiting for its SSH.
	Running func(ctx context.Context, g *inventory.Guest) (bool, error)
	// Backends, when set, reports which control planes a load balancer's
	// HAProxy does not count up; the VIP gate waits for none.
	Backends Backends
	// DNSRecord, when set, keeps the endpoint's record on the router for
	// kubernetes.pin: router-dns; without it those steps have no work.
	DNSRecord DNSRecord
	// Kubeconfig, when set, is where the admin kubeconfig is written
	// instead of the inventory's kubernetes.kubeconfig.
	Kubeconfig string
	// Timeouts bound the gates and commands; zero fields take defaults.
	Timeouts Timeouts
	// Now is the clock of token and certificate-key lifetimes; nil means
	// time.Now.
	Now func() time.Time
	// Sleep pauses between a gate's looks; nil means step.Sleep.
	Sleep func(context.Context, time.Duration) error
	// Restore, when set, is a checked backup (backup.Open, Check) the
	// first control plane is initialised from: its PKI and its etcd data.
	// Plans name the backup's identity, never its contents.
	Restore *backup.Backup
	// Missing names the guests on offline Proxmox nodes (a degraded run):
	// the gates ask for a quorum of the control planes and for the nodes
	// that run, not for these.
	Missing []string
}

// Backends reports which of servers the HAProxy on load balancer lb does
// not count up ("" when every one is up).
type Backends func(ctx context.Context, inv *inventory.Inventory, lb *inventory.Guest, servers []string) (string, error)

// DNSRecord is the work of a step that keeps one static DNS record on the
// router, name pointing at address, marked as owned by step id.
type DNSRecord func(inv *inventory.Inventory, id step.ID, name, address string) step.Work

// Kind returns "kubernetes".
func (Phase) Kind() string { return "kubernetes" }

// Description says what the phase does.
func (Phase) Description() string {
	return "kubeadm cluster behind the VIP: master1 on its real IP first, then the VIP"
}

// etcdLock serialises control-plane joins: each adds an etcd member, and
// two at once can cost the cluster its quorum.
func etcdLock() step.Lock { return step.Lock{Key: "kube/etcd-membership", Capacity: 1} }

// Where the endpoint name is pinned during bootstrap (kubernetes.pin).
const (
	PinHosts     = "hosts"
	PinRouterDNS = "router-dns"
)

// IDs of the sequence's gates and single steps.
const (
	PinRouterRecord  step.ID = "kube/pin/router-dns"
	FlipRouterRecord step.ID = "kube/flip/router-dns"
	GateControlPlane step.ID = "kube/gate/control-plane"
	GateVIPReady     step.ID = "kube/gate/vip-ready"
	GateEndpoint     step.ID = "kube/gate/endpoint-on-vip"
	GateNodesReady   step.ID = "kube/gate/nodes-ready"
	RestartKubeProxy step.ID = "kube/restart/kube-proxy"
	Kubeconfig       step.ID = "kube/kubeconfig"
)

func prepareID(node string) step.ID { return step.ID("kube/prepare/" + node) }
func pinID(node string) step.ID     { return step.ID("kube/pin/" + node) }
func flipID(node string) step.ID    { return step.ID("kube/flip/" + node) }
func joinID(node string) step.ID    { return step.ID("kube/join/" + node) }
func initID(node string) step.ID    { return step.ID("kube/init/" + node) }
func apiGateID(node string) step.ID { return step.ID("kube/gate/apiserver/" + node) }

// Steps returns the bootstrap sequence in the order DESIGN.md gives it.
func (p Phase) Steps(inv *inventory.Inventory) ([]*step.Step, error) {
	k := inv.Kubernetes
	if k == nil {
		return nil, nil
	}
	v, err := ParseVersion(k.Version)
	if err != nil {
		return nil, err
	}
	masters, workers := inv.ControlPlanes(), inv.Workers()
	if len(masters) == 0 {
		return nil, fmt.Errorf("no guest has the control-plane role %q", k.ControlPlaneRole)
	}
	vip, ok := inv.VIP(k.EndpointVIP)
	if !ok {
		return nil, fmt.Errorf("endpoint_vip %q is not a VIP of the load balancer", k.EndpointVIP)
	}
	if k.CNI.Name != inventory.CNICalico && k.CNI.Name != inventory.CNIBridge {
		return nil, fmt.Errorf("kubernetes.cni.name %q: the kubernetes phase installs calico or bridge", k.CNI.Name)
	}
	m1 := masters[0]
	nodes := append(append([]*inventory.Guest{}, masters...), workers...)
	var steps []*step.Step
	add := func(s *step.Step) *step.Step { steps = append(steps, s); return s }
	run := func(reason string) step.Change { return step.Change{Action: step.Run, Reason: reason} }

	for _, n := range nodes {
		add(&step.Step{
			ID:          prepareID(n.Name),
			Description: fmt.Sprintf("prepare %s: swap off, kernel modules, sysctls, containerd, kubelet/kubeadm/kubectl %s held", n.Name, v.Bare()),
			Needs:       []step.ID{step.GuestBootID(n.Name)},
			Intent:      step.Change{Action: step.Create, Fields: prepareFields(k, v)},
		})
		if k.Pin == PinHosts {
			add(&step.Step{
				ID:          pinID(n.Name),
				Description: fmt.Sprintf("pin %s to master1's IP %s in /etc/hosts on %s", k.Endpoint, m1.IP, n.Name),
				Needs:       []step.ID{step.GuestBootID(n.Name)},
				Intent:      step.Change{Action: step.Create, Fields: []step.Field{step.Set("/etc/hosts", fmt.Sprintf("%s %s", m1.IP, k.Endpoint))}},
			})
		}
	}
	// pinOf is the step that pins the name for a node: its own /etc/hosts
	// block, or the one router record every node resolves.
	pinOf := pinID
	if k.Pin == PinRouterDNS {
		pinOf = func(string) step.ID { return PinRouterRecord }
		add(&step.Step{
			ID:          PinRouterRecord,
			Description: fmt.Sprintf("pin %s to master1's IP %s with a static DNS record on the router", k.Endpoint, m1.IP),
			Intent:      step.Change{Action: step.Create, Fields: []step.Field{step.Set("name", k.Endpoint), step.Set("address", m1.IP.String())}},
		})
	}

	// Plans show the files in full with the secrets redacted; the real
	// token and key are rendered when a step applies.
	redacted := Secrets{}.Redacted()
	initFile, err := InitConfig(inv, m1, redacted)
	if err != nil {
		return nil, err
	}
	initStep := add(&step.Step{
		ID:          initID(m1.Name),
		Description: fmt.Sprintf("kubeadm init on %s (%s) with controlPlaneEndpoint %s:6443 and --upload-certs", m1.Name, m1.IP, k.Endpoint),
		Needs:       []step.ID{prepareID(m1.Name), pinOf(m1.Name)},
		Locks:       []step.Lock{etcdLock()},
		Intent: step.Change{Action: step.Create, Fields: initFields(inv, m1, v), Files: []step.File{
			{Host: m1.Name, Path: InitConfigPath, Mode: ConfigMode, Content: string(initFile)},
		}},
	})
	if p.Restore != nil {
		what := restoreWhat(p.Restore)
		initStep.Description += ", restoring " + what
		initStep.Intent.Fields = append(initStep.Intent.Fields, step.Set("restore", what))
	}
	add(&step.Step{
		ID:          apiGateID(m1.Name),
		Description: fmt.Sprintf("wait until https://%s:6443/readyz answers ok", m1.IP),
		Needs:       []step.ID{initID(m1.Name)},
		Intent:      run("a gate: checked on every run"),
	})
	cpDone := []step.ID{apiGateID(m1.Name)}
	for _, m := range masters[1:] {
		intent, err := joinIntent(inv, m, true, redacted)
		if err != nil {
			return nil, err
		}
		cpDone = append(cpDone, add(&step.Step{
			ID:          joinID(m.Name),
			Description: fmt.Sprintf("kubeadm join %s (%s) as a control plane through %s (still master1)", m.Name, m.IP, k.Endpoint),
			Needs:       []step.ID{apiGateID(m1.Name), prepareID(m.Name), pinOf(m.Name)},
			Locks:       []step.Lock{etcdLock()},
			Intent:      intent,
		}).ID)
	}
	add(&step.Step{
		ID:          GateControlPlane,
		Description: fmt.Sprintf("wait until every apiserver (%d) is ready and every etcd member is healthy", len(masters)),
		Needs:       cpDone,
		Intent:      run("a gate: checked on every run"),
	})

	vipNeeds := []step.ID{GateControlPlane}
	if inv.LoadBalancer != nil {
		for _, lb := range inv.LoadBalancers() {
			vipNeeds = append(vipNeeds, step.HAProxyID(lb.Name))
		}
		vipNeeds = append(vipNeeds, step.VIPGateID(vip.Name))
	}
	add(&step.Step{
		ID:          GateVIPReady,
		Description: fmt.Sprintf("wait until https://%s:6443/readyz answers through HAProxy and every control-plane backend is up", vip.Address),
		Needs:       vipNeeds,
		Intent:      run("a gate: no client is pointed at the VIP before it passes"),
	})

	// flips move the name to the VIP; kube-proxy restarts once the control
	// planes' names have moved.
	var flips, controlPlaneFlips []step.ID
	if k.Pin == PinRouterDNS {
		flips = []step.ID{add(&step.Step{
			ID:          FlipRouterRecord,
			Description: fmt.Sprintf("point the router's record for %s at the VIP %s", k.Endpoint, vip.Address),
			Needs:       []step.ID{GateVIPReady, PinRouterRecord},
			Intent:      step.Change{Action: step.Update, Fields: []step.Field{{Name: "address", Old: m1.IP.String(), New: vip.Address.String()}}},
		}).ID}
		controlPlaneFlips = flips
	} else {
		for i, n := range nodes {
			flips = append(flips, add(&step.Step{
				ID:          flipID(n.Name),
				Description: fmt.Sprintf("point %s at the VIP %s in /etc/hosts on %s", k.Endpoint, vip.Address, n.Name),
				Needs:       []step.ID{GateVIPReady, pinID(n.Name)},
				Intent: step.Change{Action: step.Update, Fields: []step.Field{
					{Name: "/etc/hosts", Old: fmt.Sprintf("%s %s", m1.IP, k.Endpoint), New: fmt.Sprintf("%s %s", vip.Address, k.Endpoint)},
				}},
			}).ID)
			if i < len(masters) {
				controlPlaneFlips = flips
			}
		}
	}
	add(&step.Step{
		ID:          RestartKubeProxy,
		Description: "restart kube-proxy, which resolves the endpoint name only when it starts",
		Needs:       controlPlaneFlips,
		Intent: step.Change{Action: step.Update, Reason: "kube-proxy is restarted once after the endpoint moves to the VIP",
			Fields: []step.Field{{Name: "kube-proxy restarted for", New: vip.Address.String()}}},
	})
	add(&step.Step{
		ID:          GateEndpoint,
		Description: fmt.Sprintf("wait until %s resolves to %s on every node and /readyz answers through it", k.Endpoint, vip.Address),
		Needs:       append([]step.ID{RestartKubeProxy}, flips...),
		Intent:      run("a gate: checked on every run"),
	})

	ready := []step.ID{}
	for _, w := range workers {
		intent, err := joinIntent(inv, w, false, redacted)
		if err != nil {
			return nil, err
		}
		ready = append(ready, add(&step.Step{
			ID:          joinID(w.Name),
			Description: fmt.Sprintf("kubeadm join %s (%s) as a worker through %s (now the VIP)", w.Name, w.IP, k.Endpoint),
			Needs:       []step.ID{GateEndpoint, prepareID(w.Name)},
			Intent:      intent,
		}).ID)
	}
	var cni []step.ID
	if k.CNI.Name == inventory.CNIBridge {
		// Each node's conflist once the node is registered: after init
		// (the apiserver answers), or after its join.
		for i, n := range nodes {
			after := joinID(n.Name)
			if i == 0 {
				after = apiGateID(n.Name)
			}
			cni = append(cni, add(&step.Step{
				ID:          bridgeID(n.Name),
				Description: fmt.Sprintf("write %s on %s: the CNI bridge plugin on the node's pod CIDR (its Node's spec.podCIDR, from %s)", BridgeConfList, n.Name, k.PodSubnet),
				Needs:       []step.ID{after},
				Intent: step.Change{Action: step.Create, Fields: []step.Field{
					step.Set("file", BridgeConfList), step.Set("podCIDR", "the Node's spec.podCIDR, allocated from "+k.PodSubnet.String()),
				}},
			}).ID)
		}
	} else {
		cni = append(cni, add(&step.Step{
			ID:          step.ID("kube/cni/" + k.CNI.Name),
			Description: fmt.Sprintf("apply the pinned %s %s manifest", k.CNI.Name, k.CNI.Version),
			Needs:       []step.ID{GateEndpoint},
			Intent:      step.Change{Action: step.Create, Fields: []step.Field{step.Set("cni", k.CNI.Name+" "+k.CNI.Version), step.Set("pod_subnet", k.PodSubnet.String())}},
		}).ID)
	}
	add(&step.Step{
		ID:          GateNodesReady,
		Description: fmt.Sprintf("wait until every node (%d) is Ready", len(nodes)),
		Needs:       append(cni, ready...),
		Intent:      run("a gate: checked on every run"),
	})
	add(&step.Step{
		ID:          Kubeconfig,
		Description: fmt.Sprintf("write the admin kubeconfig to %s (mode 0600)", p.kubeconfigPath(inv)),
		Needs:       []step.ID{GateNodesReady},
		Intent: step.Change{Action: step.Create, Fields: []step.Field{
			step.Set("path", p.kubeconfigPath(inv)), step.Set("server", fmt.Sprintf("https://%s:6443", k.Endpoint)),
		}},
	})
	if p.Hosts != nil {
		if err := p.attach(inv, steps); err != nil {
			return nil, err
		}
	}
	return steps, nil
}

// kubeconfigPath is where the admin kubeconfig goes, as the user wrote it.
func (p Phase) kubeconfigPath(inv *inventory.Inventory) string {
	if p.Kubeconfig != "" {
		return p.Kubeconfig
	}
	return inv.Kubernetes.Kubeconfig
}

func initFields(inv *inventory.Inventory, m1 *inventory.Guest, v kubeversion.Version) []step.Field {
	k := inv.Kubernetes
	return append(initOptionFields(k), []step.Field{
		step.Set("kubernetesVersion", v.String()),
		step.Set("controlPlaneEndpoint", k.Endpoint+":6443"),
		step.Set("apiServer.certSANs", strings.Join(certSANs(inv), ",")),
		step.Set("advertiseAddress", m1.IP.String()),
		step.Set("podSubnet", k.PodSubnet.String()),
		step.Set("serviceSubnet", k.ServiceSubnet.String()),
		step.SensitiveField("bootstrapToken"),
		step.SensitiveField("certificateKey"),
	}...)
}

// joinIntent is a join step's intent: its fields and its join file,
// rendered with s (redacted in plans).
func joinIntent(inv *inventory.Inventory, n *inventory.Guest, controlPlane bool, s Secrets) (step.Change, error) {
	file, err := JoinConfig(inv, n, controlPlane, s)
	if err != nil {
		return step.Change{}, err
	}
	return step.Change{Action: step.Create, Fields: joinFields(n, controlPlane), Files: []step.File{
		{Host: n.Name, Path: JoinConfigPath, Mode: ConfigMode, Content: string(file)},
	}}, nil
}

func joinFields(n *inventory.Guest, controlPlane bool) []step.Field {
	fields := []step.Field{step.Set("advertiseAddress", n.IP.String()), step.Set("node-ip", n.IP.String()), step.SensitiveField("token")}
	if controlPlane {
		fields = append(fields, step.SensitiveField("certificateKey"))
	}
	return fields
}

// certSANs are the names and addresses the apiserver certificate carries
// from the start: the endpoint name, every VIP, every control plane's IP
// and hostname.
func certSANs(inv *inventory.Inventory) []string {
	sans := []string{inv.Kubernetes.Endpoint}
	if inv.LoadBalancer != nil {
		for _, v := range inv.LoadBalancer.VIPs {
			sans = append(sans, v.Address.String())
		}
	}
	for _, m := range inv.ControlPlanes() {
		sans = append(sans, m.IP.String(), m.Name)
	}
	return sans
}
