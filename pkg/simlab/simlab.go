// Package simlab assembles the simulators (pkg/sim/...) into a simulated
// lab for an inventory: a RouterOS and a Proxmox VE simulator on loopback
// that speak the real protocols, and a simulated Debian host per guest
// reached over real SSH, whose Kubernetes programs pkg/sim/kube answers
// for. Its Clients are homelab.Clients that reach it, for homelab.Plan,
// Up, Apply, DownPlan and Status. The CLI's --simulate and "sim" commands
// and the tests use it; pkg/homelab never imports it (nor any simulator),
// so a program that imports only pkg/homelab compiles no simulator.
package simlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	pve "github.com/luthermonson/go-proxmox"

	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/proxmox"
	"github.com/homelabctl/homelab/pkg/routeros"
	"github.com/homelabctl/homelab/pkg/sim/host"
	"github.com/homelabctl/homelab/pkg/sim/kube"
	simpve "github.com/homelabctl/homelab/pkg/sim/pve"
	simros "github.com/homelabctl/homelab/pkg/sim/routeros"
)

// Lab is an in-process lab to run plans against: simulators that
// speak the real protocols on loopback ports, so nothing reaches the
// inventory's real addresses. The router and the Proxmox cluster are
// simulated, and every guest is a simulated Debian host (pkg/sim/host)
// whose SSH server answers while the PVE simulator has the guest running.
type Lab struct {
	Router  *simros.Server
	Proxmox *simpve.Server
	// Hosts are the guests' simulated hosts, by guest name.
	Hosts *host.Lab
	// Kube answers for kubeadm, kubectl and the cluster they make on the
	// hosts (pkg/sim/kube).
	Kube    *kube.Sim
	dir     string // the hosts' roots, the lab's SSH key and known_hosts
	clients homelab.Clients
	access  Access

	// stateDir keeps the lab between processes ("" for a throwaway lab);
	// lock and manifest are its lock and lab.json (see state.go).
	stateDir string
	lock     *homelab.RunLock
	manifest *simManifest
	// knownHosts maps the guests' SSH addresses to this run's loopback
	// ones, for the saved known_hosts.
	knownHosts map[string]string
}

// Access is how to reach a simulated lab's servers with other tools: the
// endpoints and the credentials it made up for this run.
type Access struct {
	RouterAddress  string
	RouterUser     string
	RouterPassword string
	ProxmoxURL     string
	// ProxmoxFingerprint is the SHA-256 of the simulator's certificate,
	// for an inventory's proxmox.tls.fingerprint.
	ProxmoxFingerprint string
	ProxmoxTokenID     string
	ProxmoxTokenSecret string
	// SSHKeyFile is the private key the simulated hosts accept, and
	// SSHHosts the guests' SSH logins on loopback ("user@127.0.0.1:port"),
	// while the guests run.
	SSHKeyFile string
	SSHHosts   map[string]string
	// KnownHosts is the known_hosts file the lab's Clients record the
	// guests' host keys in (by this run's loopback addresses while the
	// lab runs).
	KnownHosts string
}

// SSHCommand is the ssh command line that logs in to a simulated guest
// with the lab's key, or "" for a guest the lab does not have.
func (a Access) SSHCommand(guest string) string {
	login, ok := a.SSHHosts[guest]
	if !ok {
		return ""
	}
	i := strings.LastIndex(login, ":")
	return fmt.Sprintf("ssh -i %s -p %s %s", a.SSHKeyFile, login[i+1:], login[:i])
}

// simulatedManagement is the simulated router's address as the router
// sees its API clients arrive: the factory address on its bridge.
var simulatedManagement = netip.MustParseAddr("192.168.88.1")

// FirstBootUpgrade is how long a VM whose cloud-init upgrades its
// packages (cloud_init_upgrade) holds apt's locks after its first boot in
// the simulated lab: short, so that demos stay fast.
const FirstBootUpgrade = 1500 * time.Millisecond

// Options tune Start.
type Options struct {
	// Latency is the PVE simulator's task duration model (zero: instant).
	Latency simpve.Latency
	// ResourceLag is how far the simulated cluster list lags behind the
	// guests' own endpoints, as on real clusters.
	ResourceLag time.Duration
	// VRRPScale scales the simulated keepalived's timers (a VIP finds its
	// holder after about 3.5s); zero means real time.
	VRRPScale float64
	// Logger receives the simulators' diagnostics; nil discards them.
	Logger *slog.Logger
	// StateDir, when set, keeps the lab between processes: Start
	// takes up the lab saved there (made for the same inventory; one made
	// for another is refused) and Close saves it there, so a second
	// `homelab up` changes nothing. Empty: a throwaway lab, gone with
	// Close. See state.go for what the directory holds.
	StateDir string
	// HostLatency is how long apt takes on the simulated hosts; zero is
	// instant.
	HostLatency host.Latency
	// KubeLatency is how long kubeadm init and join and a node turning
	// Ready take in the simulated cluster; zero is instant.
	KubeLatency kube.Latency
	// KubeMirror, when set, is a package and image mirror the simulated
	// hosts reach by its name (kubernetes.packages.source: mirror).
	KubeMirror *kube.Mirror
	// CgroupV1 boots every guest with the legacy cgroup v1 hierarchy, as
	// the end-to-end lab's hosts (host.Spec.CgroupV1); false: cgroup v2.
	CgroupV1 bool
}

// Start starts a simulated lab for inv: a factory-fresh router, a
// Proxmox cluster with the inventory's nodes, storages and templates, and
// a simulated host per guest; or, with a StateDir that holds a lab, that
// lab as it was saved (the guests that ran boot again). Close stops it
// all.
func Start(ctx context.Context, inv *inventory.Inventory, opts ...Options) (*Lab, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	lab := &Lab{stateDir: o.StateDir, Kube: kube.New(kube.Options{Latency: o.KubeLatency, Logger: o.Logger, Mirror: o.KubeMirror})}
	seed := randomSecret()
	if o.StateDir != "" {
		lock, m, err := openStateDir(o.StateDir, inv.Name)
		if err != nil {
			return nil, err
		}
		lab.lock, lab.manifest, seed = lock, m, m.SecretSeed
	}
	password := randomSecret()
	lab.Router = simros.New(simros.Options{
		Users:      map[string]string{inv.Router.Username: password},
		Management: simulatedManagement,
	})
	lab.access = Access{RouterUser: inv.Router.Username, RouterPassword: password}
	secret, err := lab.newProxmox(inv, o)
	if err != nil {
		lab.Close()
		return nil, err
	}
	if lab.manifest != nil {
		if err := lab.loadStates(lab.manifest); err != nil {
			lab.Close()
			return nil, err
		}
	}
	addr, err := lab.Router.Start()
	if err != nil {
		lab.Close()
		return nil, fmt.Errorf("start the simulated router: %w", err)
	}
	lab.access.RouterAddress = addr
	lab.clients = homelab.Clients{
		Router:                 routeros.NewConn(addr, inv.Router.Username, password, nil, 5*time.Second),
		RouterManagement:       simulatedManagement,
		AuthorizedKeysOptional: true,
	}
	lab.clients.Router.SetLogger(o.Logger)
	if err := lab.startProxmox(inv, secret); err != nil {
		lab.Close()
		return nil, err
	}
	if err := lab.startHosts(inv, o, seed); err != nil {
		lab.Close()
		return nil, err
	}
	return lab, nil
}

// newProxmox makes the PVE simulator for inv (not serving yet) and
// returns the API token secret it made up.
func (l *Lab) newProxmox(inv *inventory.Inventory, o Options) (string, error) {
	// PVE makes token secrets as UUIDs.
	secret := simpve.NewTokenSecret()
	opts := simpve.Options{
		Tokens:      []simpve.Token{{ID: inv.Proxmox.TokenID, Secret: secret}},
		Latency:     o.Latency,
		ResourceLag: o.ResourceLag,
		// pveproxy holds a refused request back 3s; a short delay keeps
		// the simulated lab as slow to refuse, without the wait.
		AuthFailureDelay: 200 * time.Millisecond,
	}
	for _, n := range inv.Proxmox.Nodes {
		opts.Nodes = append(opts.Nodes, simpve.NodeSpec{Name: n.Name})
	}
	storages := []string{inv.Proxmox.Storage}
	for _, g := range inv.Guests {
		if !slices.Contains(storages, g.Storage) && g.Storage != "" {
			storages = append(storages, g.Storage)
		}
	}
	opts.Storages = []simpve.StorageSpec{{Name: "local", Type: "dir", Content: "iso,vztmpl,backup,snippets", Size: 100 << 30}}
	for _, s := range storages {
		if s != "" && s != "local" {
			opts.Storages = append(opts.Storages, simpve.StorageSpec{Name: s, Type: "lvmthin", Content: "images,rootdir", Size: 2 << 40})
		}
	}
	for _, t := range inv.Proxmox.Templates.VM {
		opts.VMTemplates = append(opts.VMTemplates, simpve.VMTemplateSpec{VMID: t.VMID, Node: t.Node, Name: t.Name, Storage: inv.Proxmox.Storage})
	}
	opts.CTTemplates = []string{}
	for _, t := range inv.Proxmox.Templates.LXC {
		opts.CTTemplates = append(opts.CTTemplates, t.VolID)
	}
	opts.NoTemplates = len(opts.VMTemplates) == 0 && len(opts.CTTemplates) == 0
	srv, err := simpve.New(opts)
	if err != nil {
		return "", fmt.Errorf("simulated Proxmox: %w", err)
	}
	l.Proxmox = srv
	// The token holds what docs/dr-runbook.md grants, not everything: a
	// call homelab makes without declaring it is refused as PVE would.
	var bridges []string
	for _, t := range inv.Proxmox.Templates.VM {
		if g, ok := srv.Guest(t.VMID); ok {
			for k, nic := range g.Config {
				if bridge, vlan := proxmox.NICBridge(nic); strings.HasPrefix(k, "net") && bridge != "" {
					bridges = append(bridges, proxmox.SDNPath(bridge, vlan))
				}
			}
		}
	}
	acl, err := labPrivileges(inv, bridges)
	if err != nil {
		return "", fmt.Errorf("simulated Proxmox: %w", err)
	}
	if err := srv.SetPrivileges(inv.Proxmox.TokenID, acl); err != nil {
		return "", fmt.Errorf("simulated Proxmox: %w", err)
	}
	return secret, nil
}

// startProxmox serves the PVE simulator and makes its client.
func (l *Lab) startProxmox(inv *inventory.Inventory, secret string) error {
	srv := l.Proxmox
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start the simulated Proxmox: %w", err)
	}
	l.access.ProxmoxURL, l.access.ProxmoxFingerprint = srv.URL(), srv.Fingerprint()
	l.access.ProxmoxTokenID, l.access.ProxmoxTokenSecret = inv.Proxmox.TokenID, secret
	api := pve.NewClient(srv.URL(), pve.WithHTTPClient(srv.HTTPClient()), pve.WithAPIToken(inv.Proxmox.TokenID, secret))
	client := proxmox.NewClient(api)
	client.TaskPoll = 20 * time.Millisecond
	l.clients.Proxmox = client
	return nil
}

func randomSecret() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Access returns the simulated servers' endpoints and credentials.
func (l *Lab) Access() Access { return l.access }

// Clients are the clients that reach the simulated lab. Close closes
// them: do not close them on their own.
func (l *Lab) Clients() homelab.Clients { return l.clients }

// Close stops the simulators; it saves the lab to its StateDir, or, for
// a throwaway lab, removes what the hosts kept on disk.
func (l *Lab) Close() error {
	errs := []error{l.clients.Close()}
	if l.stateDir != "" && l.Hosts != nil {
		// Saved only once the whole lab ran: a lab that failed to start
		// leaves the directory as it found it.
		errs = append(errs, l.Save())
	}
	if l.Hosts != nil {
		errs = append(errs, l.Hosts.Close())
	}
	if l.Proxmox != nil {
		errs = append(errs, l.Proxmox.Close())
	}
	if l.access.RouterAddress != "" {
		errs = append(errs, l.Router.Close())
	}
	switch {
	case l.stateDir != "" && l.knownHosts != nil:
		back := map[string]string{}
		for guest, loop := range l.knownHosts {
			back[loop] = guest
		}
		errs = append(errs, rewriteKnownHosts(filepath.Join(l.stateDir, "known_hosts"), back, func(h string) bool { return !isLoopback(h) }))
	case l.stateDir == "" && l.dir != "":
		errs = append(errs, os.RemoveAll(l.dir))
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Unlock())
	}
	return errors.Join(errs...)
}
