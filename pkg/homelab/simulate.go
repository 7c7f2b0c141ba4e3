package homelab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"time"

	pve "github.com/luthermonson/go-proxmox"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/proxmox"
	"github.com/homelabctl/homelab/pkg/routeros"
	"github.com/homelabctl/homelab/pkg/sim/host"
	simpve "github.com/homelabctl/homelab/pkg/sim/pve"
	simros "github.com/homelabctl/homelab/pkg/sim/routeros"
)

// SimulatedLab is an in-process lab to run plans against: simulators that
// speak the real protocols on loopback ports, so nothing reaches the
// inventory's real addresses. The router and the Proxmox cluster are
// simulated, and every guest is a simulated Debian host (pkg/sim/host)
// whose SSH server answers while the PVE simulator has the guest running.
type SimulatedLab struct {
	Router  *simros.Server
	Proxmox *simpve.Server
	// Hosts are the guests' simulated hosts, by guest name.
	Hosts   *host.Lab
	dir     string // the hosts' roots, the lab's SSH key and known_hosts
	clients Clients
	access  Access
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
}

// simulatedManagement is the simulated router's address as the router
// sees its API clients arrive: the factory address on its bridge.
var simulatedManagement = netip.MustParseAddr("192.168.88.1")

// SimulateOptions tune Simulate.
type SimulateOptions struct {
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
}

// Simulate starts a simulated lab for inv: a factory-fresh router, a
// Proxmox cluster with the inventory's nodes, storages and templates, and
// a simulated host per guest. Close stops it all.
func Simulate(ctx context.Context, inv *inventory.Inventory, opts ...SimulateOptions) (*SimulatedLab, error) {
	var o SimulateOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	password := randomSecret()
	router := simros.New(simros.Options{
		Users:      map[string]string{inv.Router.Username: password},
		Management: simulatedManagement,
	})
	addr, err := router.Start()
	if err != nil {
		return nil, fmt.Errorf("start the simulated router: %w", err)
	}
	lab := &SimulatedLab{Router: router, access: Access{RouterAddress: addr, RouterUser: inv.Router.Username, RouterPassword: password}}
	lab.clients = Clients{
		Router:           routeros.NewConn(addr, inv.Router.Username, password, nil, 5*time.Second),
		RouterManagement: simulatedManagement,
	}
	if err := lab.startProxmox(inv, o); err != nil {
		lab.Close()
		return nil, err
	}
	if err := lab.startHosts(inv, o); err != nil {
		lab.Close()
		return nil, err
	}
	return lab, nil
}

func (l *SimulatedLab) startProxmox(inv *inventory.Inventory, o SimulateOptions) error {
	secret := randomSecret()
	opts := simpve.Options{
		Tokens:      []simpve.Token{{ID: inv.Proxmox.TokenID, Secret: secret}},
		Latency:     o.Latency,
		ResourceLag: o.ResourceLag,
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
		return fmt.Errorf("simulated Proxmox: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start the simulated Proxmox: %w", err)
	}
	l.Proxmox = srv
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
func (l *SimulatedLab) Access() Access { return l.access }

// Clients are the clients that reach the simulated lab.
func (l *SimulatedLab) Clients() Clients { return l.clients }

// Close stops the simulators and removes what the hosts kept on disk.
func (l *SimulatedLab) Close() error {
	errs := []error{l.clients.Close()}
	if l.Hosts != nil {
		errs = append(errs, l.Hosts.Close())
	}
	if l.Proxmox != nil {
		errs = append(errs, l.Proxmox.Close())
	}
	errs = append(errs, l.Router.Close())
	if l.dir != "" {
		errs = append(errs, os.RemoveAll(l.dir))
	}
	return errors.Join(errs...)
}
