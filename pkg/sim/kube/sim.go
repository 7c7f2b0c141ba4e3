package kube

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// Options configure a Sim.
type Options struct {
	// Now is the clock of token and certificate-key expiry and node ages;
	// nil is time.Now. Advance moves it on.
	Now func() time.Time
	// Latency are durations the programs sleep (ended by their context);
	// zero is instant.
	Latency Latency
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Mirror, when set, is a lab mirror the nodes reach by its host name
	// (Internet serves it).
	Mirror *Mirror
}

// Latency are how long the simulated steps take.
type Latency struct {
	// Init and Join are how long `kubeadm init` and `kubeadm join` run.
	Init, Join time.Duration
	// NodeReady is how long a node stays NotReady after both its join
	// and the CNI.
	NodeReady time.Duration
}

// Sim is the simulated Kubernetes stack of one lab. Its methods are safe
// for concurrent use.
type Sim struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	skew    time.Duration
	cluster *Cluster
	faults  map[string]string // node name -> join stage that fails next
	// hosts are the hosts nodes registered from (by host name), whose
	// /etc/cni/net.d their kubelets read.
	hosts map[string]*host.Host
	// ctrMu serialises writes to the simulated containerd image stores.
	ctrMu sync.Mutex
}

// Cluster is the cluster's state as its API and etcd hold it.
type Cluster struct {
	ID            uint64 `json:"id"`
	Endpoint      string `json:"endpoint"` // controlPlaneEndpoint, host:port
	Version       string `json:"version"`  // kubernetesVersion, v1.31.4
	CertSANs      []string
	DNSDomain     string
	ServiceSubnet string
	PodSubnet     string
	// CA and EtcdCA are the shared PKI (certificate and key, PEM), what
	// kubeadm-certs carries to joining control planes.
	CA, CAKey, EtcdCA, EtcdCAKey []byte `json:",omitempty"`
	Members                      []Member
	Nodes                        []Node
	Tokens                       []Token
	Certs                        *UploadedCerts `json:",omitempty"`
	DaemonSets                   map[string]*DaemonSet
	// ConfigMaps are the ConfigMaps kubectl created and kubeadm's
	// kubeadm-config, by "namespace/name": their data.
	ConfigMaps map[string]map[string]string `json:",omitempty"`
	Created    time.Time
	// Kubelet is the kubelet-config ConfigMap: the init configuration's
	// KubeletConfiguration, which every joining node's kubelet gets.
	Kubelet kubeletConfig
	// ImageRepository is imageRepository ("": kubeadm's, registry.k8s.io).
	ImageRepository string `json:",omitempty"`
}

// Member is an etcd member.
type Member struct {
	ID        uint64
	Name      string // "" until it started
	PeerURL   string
	ClientURL string
	Learner   bool
	Started   bool
}

// Node is a Node object.
type Node struct {
	Name         string
	Host         string // the simulated host it runs on
	IP           string
	ControlPlane bool
	Version      string
	Joined       time.Time
	// PodCIDR is spec.podCIDR, allocated by kube-controller-manager from
	// the cluster's podSubnet when the Node registers ("" without one).
	PodCIDR string `json:",omitempty"`
	// Lost: its kubelet stopped (kubeadm reset) or the machine that ran
	// it is gone (see Wiped): it posts no status, so the Node is NotReady
	// until a node of its name joins. (The real node lifecycle controller
	// waits node-monitor-grace-period first; here it is at once, except
	// after a restore: see ReadyUntil.)
	Lost bool `json:",omitempty"`
	// ReadyUntil: a Lost Node restored from an etcd snapshot that said
	// Ready keeps saying so until then. etcd holds the status the kubelet
	// last posted, and the restored cluster's node lifecycle controller,
	// hearing nothing from the kubelet, marks it Unknown (NotReady) only
	// NodeMonitorGracePeriod after it starts
	// (pkg/controller/nodelifecycle: tryUpdateNodeHealth); until then
	// kubeadm join refuses a machine of its name.
	ReadyUntil time.Time `json:",omitempty"`
	// Ready is computed by Cluster: a CNI runs (calico-node, or a CNI
	// configuration on the node's host), NodeReady passed and the node is
	// not Lost (or Lost, before ReadyUntil). A snapshot records it as it
	// was when the snapshot was saved.
	Ready bool
}

// NodeMonitorGracePeriod is kube-controller-manager's
// --node-monitor-grace-period default: how long the node lifecycle
// controller lets a Node's kubelet be silent before it marks the Node
// Unknown.
const NodeMonitorGracePeriod = 50 * time.Second

// Token is a bootstrap token (Secret bootstrap-token-<id>).
type Token struct {
	ID      string
	Secret  string
	Expires time.Time
}

// UploadedCerts is Secret kube-system/kubeadm-certs.
type UploadedCerts struct {
	Uploaded time.Time
	// KeyDigest is the SHA-256 (hex) of the certificate key that
	// encrypted it.
	KeyDigest string
}

// DaemonSet is a DaemonSet of kube-system.
type DaemonSet struct {
	Image       string
	Annotations map[string]string `json:",omitempty"`
	// Restarts counts `rollout restart`s.
	Restarts int
	Created  time.Time
}

// New returns a Sim without a cluster.
func New(o Options) *Sim {
	s := &Sim{opts: o, log: o.Logger, faults: map[string]string{}, hosts: map[string]*host.Host{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// now is the simulated clock.
func (s *Sim) now() time.Time {
	t := time.Now()
	if s.opts.Now != nil {
		t = s.opts.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return t.Add(s.skew)
}

// Advance moves the simulated clock on by d.
func (s *Sim) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skew += d
}

// FailJoin makes the next `kubeadm join` of node fail at stage: "etcd"
// (the member added as a learner and never promoted, the node's files
// written, kubeadm's error) or "kubelet-start" (kubelet.conf written, the
// TLS bootstrap times out).
func (s *Sim) FailJoin(node, stage string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[node] = stage
}

// fault takes the pending fault of node.
func (s *Sim) fault(node string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults[node]
	delete(s.faults, node)
	return f
}

// Cluster returns a copy of the cluster's state, false before an init
// created it. Expired tokens and certificates are already gone from it.
func (s *Sim) Cluster() (*Cluster, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cluster == nil {
		return nil, false
	}
	s.expire(now)
	b, _ := json.Marshal(s.cluster)
	var c Cluster
	json.Unmarshal(b, &c)
	for i := range c.Nodes {
		c.Nodes[i].Ready = s.ready(c.Nodes[i], now)
	}
	return &c, true
}

// expire drops expired tokens and kubeadm-certs (s.mu held).
func (s *Sim) expire(now time.Time) {
	c := s.cluster
	c.Tokens = slices.DeleteFunc(c.Tokens, func(t Token) bool { return !t.Expires.After(now) })
	if c.Certs != nil && !c.Certs.Uploaded.Add(2*time.Hour).After(now) {
		c.Certs = nil
	}
}

// ready reports whether a node is Ready (s.mu held): its kubelet posts
// status and containerd has a CNI network, from calico-node (whose
// install-cni writes Calico's conflist on every node) or from a valid
// configuration in the host's /etc/cni/net.d. Without either kubelet
// reports NetworkNotReady and the node stays NotReady.
func (s *Sim) ready(n Node, now time.Time) bool {
	if n.Lost {
		return now.Before(n.ReadyUntil)
	}
	since := n.Joined
	if cni := s.cluster.DaemonSets["calico-node"]; cni != nil {
		if !s.podRuns(s.hosts[n.Host], cni.Image) {
			return false // no calico-node, no install-cni: no CNI configuration
		}
		if cni.Created.After(since) {
			since = cni.Created
		}
	} else if !networkReady(s.hosts[n.Host]) {
		return false
	}
	return now.Sub(since) >= s.opts.Latency.NodeReady
}

// with runs f on the cluster under the lock, after expiry; f gets nil
// when there is none.
func (s *Sim) with(f func(c *Cluster, now time.Time)) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cluster != nil {
		s.expire(now)
	}
	f(s.cluster, now)
}

// savedState is the JSON of Save.
type savedState struct {
	FormatVersion int      `json:"format_version"`
	Skew          string   `json:"skew"`
	Cluster       *Cluster `json:"cluster"`
}

// Save writes the cluster's state as JSON.
func (s *Sim) Save(w io.Writer) error {
	s.mu.Lock()
	st := savedState{FormatVersion: 1, Skew: s.skew.String(), Cluster: s.cluster}
	b, err := json.MarshalIndent(st, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save the simulated cluster: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Load replaces the state with one Save wrote. Attach then serves the
// apiservers on the reopened hosts.
func (s *Sim) Load(r io.Reader) error {
	var st savedState
	if err := json.NewDecoder(r).Decode(&st); err != nil {
		return fmt.Errorf("load the simulated cluster: %w", err)
	}
	if st.FormatVersion != 1 {
		return fmt.Errorf("load the simulated cluster: format_version %d, want 1", st.FormatVersion)
	}
	skew, _ := time.ParseDuration(st.Skew)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cluster, s.skew = st.Cluster, skew
	return nil
}

// Attach serves the apiserver again on every control-plane host of lab
// that has one (its manifest and certificate on disk, its etcd member
// started), as after a Load in a new process.
func (s *Sim) Attach(lab *host.Lab) {
	c, ok := s.Cluster()
	if !ok {
		return
	}
	for _, n := range c.Nodes {
		h, found := lab.Host(n.Host)
		if found {
			s.mu.Lock()
			s.hosts[n.Host] = h
			s.mu.Unlock()
		}
		if !found || !n.ControlPlane {
			continue
		}
		if _, err := os.Stat(filepath.Join(h.Root(), manifestsDir, "kube-apiserver.yaml")); err != nil {
			continue
		}
		if m, ok := c.member(n.IP); ok && m.Started {
			s.serveAPI(h)
		}
	}
}

// member returns the etcd member whose peer URL is on ip.
func (c *Cluster) member(ip string) (Member, bool) {
	for _, m := range c.Members {
		if m.PeerURL == peerURL(ip) {
			return m, true
		}
	}
	return Member{}, false
}

func peerURL(ip string) string   { return "https://" + ip + ":2380" }
func clientURL(ip string) string { return "https://" + ip + ":2379" }

// quorum reports whether etcd has a majority of its voting members
// started.
func (c *Cluster) quorum() bool {
	voters, up := 0, 0
	for _, m := range c.Members {
		if !m.Learner {
			voters++
			if m.Started {
				up++
			}
		}
	}
	return voters > 0 && up*2 > voters
}

// Programs returns the simulated programs, for host.LabOptions.Programs.
func (s *Sim) Programs() map[string]host.Program {
	return map[string]host.Program{
		"kubeadm": s.kubeadm, "kubectl": s.kubectl, "kubelet": kubeletProgram,
		"containerd": containerdProgram, "crictl": crictlProgram, "ctr": s.ctr,
	}
}

// hostName is the name part of host:port.
func hostName(endpoint string) string {
	if i := strings.LastIndex(endpoint, ":"); i >= 0 && !strings.Contains(endpoint[i:], "]") {
		return endpoint[:i]
	}
	return endpoint
}
