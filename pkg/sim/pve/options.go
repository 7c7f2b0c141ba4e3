package pve

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Options configure a Server. The zero value is a three-node cluster
// pve-s1..pve-s3 with local (dir) and local-lvm (lvmthin) storage on each,
// one VM template per node (9000, 9001, 9002), a Debian 12 container
// template, one all-powerful API token (DefaultTokenID) and tasks that
// finish at once.
type Options struct {
	// ClusterName is reported by /cluster/status. Default "homelab".
	ClusterName string
	// Version is the pve-manager version /version reports. Default "9.1.1".
	Version string
	// Nodes are the cluster members. Default pve-s1..pve-s3.
	Nodes []NodeSpec
	// Storages exist on every node they name. Default local and local-lvm.
	Storages []StorageSpec
	// VMTemplates are QEMU templates present from the start.
	// Default DefaultVMTemplates. Set NoTemplates to start without any.
	VMTemplates []VMTemplateSpec
	// CTTemplates are vztmpl volume IDs (storage:vztmpl/file) present on
	// every node that has the storage. Default DefaultCTTemplate.
	CTTemplates []string
	// NoTemplates starts the cluster without the default templates.
	NoTemplates bool
	// Tokens are the API tokens the server accepts. Default one token
	// DefaultTokenID / DefaultTokenSecret with every privilege.
	Tokens []Token
	// AuthFailureDelay holds back every answer to a request that fails
	// authentication (bad or unknown token, no token), as pveproxy does
	// for 3 seconds. Zero answers at once (unit tests).
	AuthFailureDelay time.Duration
	// Schema validates every request. Nil: SchemaPath, or the built-in
	// knowledge of the parameters the simulator implements.
	Schema *Schema
	// SchemaPath is loaded with LoadSchema when Schema is nil.
	SchemaPath string
	// Latency says how long tasks run. The zero value finishes every task
	// at once.
	Latency Latency
	// ResourceLag delays what /cluster/resources shows after a change, as
	// the cluster file system does on real clusters; a guest's own status
	// and config endpoints are always current.
	ResourceLag time.Duration
	// Clock tells the time. Nil: the wall clock.
	Clock Clock
	// Addr is the listen address. Default "127.0.0.1:0".
	Addr string
	// Logger receives the simulator's own diagnostics. Nil: discarded.
	Logger *slog.Logger
}

// NodeSpec describes one cluster node.
type NodeSpec struct {
	Name string
	// IP is the node's cluster address. Default 10.0.0.1x.
	IP string
	// CPUs and Memory (bytes) size the node. Defaults 8 and 32 GiB.
	CPUs   int
	Memory uint64
	// Offline starts the node powered off.
	Offline bool
}

// StorageSpec describes a storage. A storage that is not Shared exists
// once per node; a shared one is the same pool on every node.
type StorageSpec struct {
	Name string
	// Type is the PVE plugin type: dir, lvmthin, lvm, zfspool, nfs, ...
	Type string
	// Content is PVE's comma-separated content list, e.g. "images,rootdir".
	Content string
	// Size is the capacity in bytes; Used is what is taken before any
	// guest volume is counted.
	Size uint64
	Used uint64
	// Shared marks one pool seen by all its nodes.
	Shared bool
	// Nodes restricts the storage to these nodes. Empty: every node.
	Nodes []string
}

// VMTemplateSpec is a QEMU template present from the start.
type VMTemplateSpec struct {
	VMID int
	Node string
	Name string
	// Storage holds the base disk. Default local-lvm.
	Storage string
	// DiskSize is the base disk's size in bytes. Default 2 GiB.
	DiskSize uint64
	// Config adds or overrides configuration keys.
	Config map[string]string
}

// Token is an API token: ID is user@realm!name, Secret its value, a UUID
// as PVE makes them (NewTokenSecret).
//
// Privileges maps ACL paths (/, /vms, /vms/105, /storage/local-lvm,
// /sdn/zones/localnetwork/vmbr0, /nodes/pve-s1) to privilege names granted
// there and, unless the path is in NoPropagate, below; nil grants
// everything, like a token without privilege separation on root@pam. As
// in PVE, the entry nearest to a path replaces those above it: a grant on
// /vms/105 hides what /vms grants for that guest.
type Token struct {
	ID         string
	Secret     string
	Privileges map[string][]string
	// NoPropagate lists the paths whose grant applies to the path alone
	// (pveum acl modify --propagate 0).
	NoPropagate []string
}

// Default identities and templates.
const (
	DefaultTokenID     = "root@pam!homelab"
	DefaultTokenSecret = "5e1f6a3c-0d6b-4c57-9a43-7f1d2c8b9e01"
	DefaultCTTemplate  = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
	defaultClusterName = "homelab"
	defaultVersion     = "9.1.1"
	gib                = uint64(1) << 30
)

// DefaultVMTemplates is one Debian 12 cloud-image template per default
// node, as homelab's example inventories expect.
func DefaultVMTemplates() []VMTemplateSpec {
	return []VMTemplateSpec{
		{VMID: 9000, Node: "pve-s1", Name: "debian-12-cloud"},
		{VMID: 9001, Node: "pve-s2", Name: "debian-12-cloud"},
		{VMID: 9002, Node: "pve-s3", Name: "debian-12-cloud"},
	}
}

// Latency is the task duration model. Tasks maps a task type (qmclone,
// qmstart, vzcreate, ...) to how long it runs; AgentBoot is how long after
// a VM starts its guest agent first answers. Scale multiplies every
// duration (0 means 1).
type Latency struct {
	Tasks     map[string]time.Duration
	AgentBoot time.Duration
	Scale     float64
}

// RealisticLatency is roughly what a small homelab cluster with local
// LVM-thin storage takes.
func RealisticLatency() Latency {
	return Latency{
		Tasks: map[string]time.Duration{
			"qmclone": 25 * time.Second, "qmcreate": 4 * time.Second,
			"qmconfig": 500 * time.Millisecond, "resize": 2 * time.Second,
			"qmstart": 3 * time.Second, "qmshutdown": 8 * time.Second,
			"qmstop": 2 * time.Second, "qmreboot": 10 * time.Second,
			"qmdestroy": 3 * time.Second, "qmtemplate": 4 * time.Second,
			"vzcreate": 20 * time.Second, "vzstart": 2 * time.Second,
			"vzshutdown": 4 * time.Second, "vzstop": time.Second,
			"vzdestroy": 2 * time.Second,
		},
		AgentBoot: 25 * time.Second,
		Scale:     1,
	}
}

func (l Latency) scale(d time.Duration) time.Duration {
	if l.Scale == 0 {
		return d
	}
	return time.Duration(float64(d) * l.Scale)
}

func (l Latency) task(typ string) time.Duration { return l.scale(l.Tasks[typ]) }

// Clock tells the simulator the time.
type Clock interface {
	Now() time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that moves only when told to: tests advance it
// to finish tasks and let /cluster/resources catch up without sleeping.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock starts a ManualClock at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// withDefaults fills the zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.ClusterName == "" {
		o.ClusterName = defaultClusterName
	}
	if o.Version == "" {
		o.Version = defaultVersion
	}
	if len(o.Nodes) == 0 {
		o.Nodes = []NodeSpec{{Name: "pve-s1"}, {Name: "pve-s2"}, {Name: "pve-s3"}}
	}
	nodes := make([]NodeSpec, len(o.Nodes))
	seen := map[string]bool{}
	for i, n := range o.Nodes {
		if !reNodeName.MatchString(n.Name) {
			return o, fmt.Errorf("node %d: invalid node name %q", i, n.Name)
		}
		if seen[n.Name] {
			return o, fmt.Errorf("node %s: listed twice", n.Name)
		}
		seen[n.Name] = true
		if n.IP == "" {
			n.IP = fmt.Sprintf("10.0.0.%d", 11+i)
		}
		if n.CPUs == 0 {
			n.CPUs = 8
		}
		if n.Memory == 0 {
			n.Memory = 32 * gib
		}
		nodes[i] = n
	}
	o.Nodes = nodes
	if len(o.Storages) == 0 {
		o.Storages = []StorageSpec{
			{Name: "local", Type: "dir", Content: "iso,vztmpl,backup,snippets", Size: 100 * gib, Used: 8 * gib},
			{Name: "local-lvm", Type: "lvmthin", Content: "images,rootdir", Size: 400 * gib},
		}
	}
	for _, st := range o.Storages {
		if !reStorageID.MatchString(st.Name) {
			return o, fmt.Errorf("storage %q: invalid storage ID", st.Name)
		}
		for _, n := range st.Nodes {
			if !seen[n] {
				return o, fmt.Errorf("storage %s: unknown node %q", st.Name, n)
			}
		}
	}
	if o.VMTemplates == nil && !o.NoTemplates {
		for _, t := range DefaultVMTemplates() {
			if seen[t.Node] {
				o.VMTemplates = append(o.VMTemplates, t)
			}
		}
	}
	if o.CTTemplates == nil && !o.NoTemplates {
		o.CTTemplates = []string{DefaultCTTemplate}
	}
	if len(o.Tokens) == 0 {
		o.Tokens = []Token{{ID: DefaultTokenID, Secret: DefaultTokenSecret}}
	}
	for _, t := range o.Tokens {
		if _, _, ok := splitTokenID(t.ID); !ok {
			return o, fmt.Errorf("token %q: want user@realm!name", t.ID)
		}
		if !reTokenSecret.MatchString(t.Secret) {
			return o, fmt.Errorf("token %q: the secret is not a UUID as PVE makes them (NewTokenSecret)", t.ID)
		}
	}
	if o.Clock == nil {
		o.Clock = wallClock{}
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
