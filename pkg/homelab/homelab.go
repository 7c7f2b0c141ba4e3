package homelab

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeadm"
	"github.com/homelabctl/homelab/pkg/loadbalancer"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/proxmox"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/routeros"
	"github.com/homelabctl/homelab/pkg/step"
)

// Version is homelab's version, set at build time with
// -ldflags "-X github.com/homelabctl/homelab/pkg/homelab.Version=...".
var Version = "dev"

// Clients are the connections the phases observe and apply through. A nil
// client leaves its phase unobserved: its steps show what they would do on
// an empty lab.
type Clients struct {
	Router *routeros.Conn
	// Proxmox reaches the Proxmox VE cluster.
	Proxmox *proxmox.Client
	// Dial reaches guests (their SSH ports); nil means the network.
	Dial proxmox.Dialer
	// Hosts logs in to guests over SSH (load balancers, Kubernetes nodes).
	Hosts HostDialer
	// Secrets resolves the inventory's secret references when steps run
	// (the VRRP password); nil reads the environment and files.
	Secrets func(inventory.SecretRef) (string, error)
	// pool holds the SSH connections behind Hosts, closed with the clients.
	pool *remote.Pool
	// hostKeys is homelab's record of the guests' SSH host keys (nil:
	// left alone).
	hostKeys *hostKeyBook
	// AuthorizedKeysOptional lets a plan make guests although an
	// authorized_keys file of the inventory cannot be read: for labs whose
	// guests let homelab in with a key of their own (the simulated lab's).
	// Unset, such a plan is refused (inventory.CheckKeys).
	AuthorizedKeysOptional bool
	// RouterManagement is the router address the API session reaches, for
	// the VLAN-filtering safety check; unset means the session's remote
	// address. The simulated lab sets it.
	RouterManagement netip.Addr
	// Kubeconfig is where the admin kubeconfig goes when the options name
	// no path; empty means the inventory's. The simulated lab sets one of
	// its own, so a simulated run never writes the user's kubeconfig.
	Kubeconfig string
	// KubeTimeouts bound the Kubernetes bootstrap's gates; zero fields
	// take kubeadm.DefaultTimeouts.
	KubeTimeouts kubeadm.Timeouts
	// GatePoll is how often the gates (the VIPs', the Kubernetes
	// bootstrap's) look again; zero takes their defaults.
	GatePoll time.Duration
}

// Phases returns the phase kinds plan files can name, in the order a full
// plan runs them.
func Phases(c Clients) []plan.PhaseKind { return phases(c, runOptions{}) }

// runOptions are the options of a plan or run that shape its steps.
type runOptions struct {
	// replace names guests that may be rebuilt.
	replace []string
	// kubeconfig is where the admin kubeconfig goes, if not the
	// inventory's path.
	kubeconfig string
	// restore is the checked backup the cluster is restored from.
	restore *backup.Backup
	// missing names the guests on offline Proxmox nodes: the gates do
	// not wait for them.
	missing []string
}

// phases returns the phase kinds.
func phases(c Clients, o runOptions) []plan.PhaseKind {
	lb := lbPhase(c)
	lb.Missing = o.missing
	return []plan.PhaseKind{routeros.Phase{Conn: c.Router, Management: c.RouterManagement},
		guestsPhase(c, o), lb, kubePhase(c, o)}
}

// guestsPhase is the guests phase, keeping the guests' host keys when c
// has a record of them.
func guestsPhase(c Clients, o runOptions) proxmox.Phase {
	p := proxmox.Phase{Client: c.Proxmox, Dial: c.Dial, Replace: o.replace}
	if c.hostKeys != nil {
		p.HostKeys = c.hostKeys
	}
	return p
}

// kubePhase is the kubernetes phase, working over SSH when c can reach
// hosts.
func kubePhase(c Clients, o runOptions) kubeadm.Phase {
	p := kubeadm.Phase{Kubeconfig: o.kubeconfig, Timeouts: c.KubeTimeouts, Missing: o.missing, Restore: o.restore}
	if p.Timeouts.Poll == 0 {
		p.Timeouts.Poll = c.GatePoll
	}
	if p.Kubeconfig == "" {
		p.Kubeconfig = c.Kubeconfig
	}
	if c.Hosts != nil {
		p.Hosts = kubeadm.HostDialer(c.Hosts)
		p.Backends = func(ctx context.Context, inv *inventory.Inventory, lb *inventory.Guest, servers []string) (string, error) {
			h, err := c.Hosts(lb.Name)
			if err != nil {
				return "", err
			}
			backends, err := loadbalancer.BackendStates(ctx, h, inv, lb)
			if err != nil {
				return "", err
			}
			return loadbalancer.NotUp(backends, servers), nil
		}
		if c.Router != nil {
			p.DNSRecord = func(inv *inventory.Inventory, id step.ID, name, address string) step.Work {
				return routeros.DNSRecordWork(c.Router, inv, id, name, address)
			}
		}
		if c.Proxmox != nil {
			p.Running = c.Proxmox.Running
		}
	}
	return p
}

// lbPhase is the loadbalancers phase, working over SSH when c can reach
// hosts.
func lbPhase(c Clients) loadbalancer.Phase {
	if c.Hosts == nil {
		return loadbalancer.Phase{}
	}
	secrets := c.Secrets
	if secrets == nil {
		secrets = inventory.Resolver{}.Resolve
	}
	p := loadbalancer.Phase{Hosts: loadbalancer.HostDialer(c.Hosts), Secrets: secrets, GatePoll: c.GatePoll}
	if c.Proxmox != nil {
		p.Running = c.Proxmox.Running
	}
	return p
}

// Registry returns a registry of Phases.
func Registry(c Clients) (*plan.Registry, error) {
	return plan.NewRegistry(Phases(c)...)
}

// Load reads and validates an inventory (a regular file of at most
// inventory.MaxFileSize bytes), given up when ctx is done. Warnings come
// back with a nil error; errors come back as an *inventory.ValidationError that lists every
// problem with its file, line and column.
func Load(ctx context.Context, path string) (*inventory.Inventory, inventory.Diagnostics, error) {
	return inventory.LoadContext(ctx, path)
}

// Validate checks an inventory built or edited in memory as Load checks
// a file, filling in the defaults and derived values left unset (see
// inventory.Validate): every problem comes back, with its position in
// the file the inventory was loaded from where there is one, and a
// *inventory.ValidationError when any is an error. Plan refuses an
// inventory with errors; call Validate after changing one.
func Validate(ctx context.Context, inv *inventory.Inventory) (inventory.Diagnostics, error) {
	return inventory.Validate(ctx, inv)
}

// LoadPlanFile reads a plan file: which phases run, in what order.
func LoadPlanFile(path string) (*plan.File, error) {
	return plan.LoadFile(path)
}

// PlanOptions tune Plan.
type PlanOptions struct {
	// Offline compiles without reading the lab: every step shows the change
	// it would make on an empty lab. Reviewers without access to the lab
	// use it.
	Offline bool
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Clients are what the phases observe through.
	Clients Clients
	// Replace names guests that may be rebuilt (stopped, deleted and
	// created again) when a change cannot be made in place.
	Replace []string
	// Kubeconfig is where the admin kubeconfig is written, instead of the
	// inventory's kubernetes.kubeconfig.
	Kubeconfig string
	// Restore, when set, is a backup OpenBackup opened and checked: the
	// kubernetes phase initialises the first control plane from it.
	Restore *backup.Backup
	// NoBackup: a run of the plan takes no backup of the cluster before
	// it replaces control-plane guests. Unset, the plan notes the backup
	// (plan.Plan.Backup) and the first replace of a control plane takes
	// it before it deletes anything, as Backup does, into a new
	// directory under kubernetes.backup_dir; a run with no control plane
	// answering goes on without one, and a cluster that answers while
	// no backup_dir is set fails that step (*BackupDirError).
	NoBackup bool
}

// Plan compiles the inventory and the plan file into a plan. An
// inventory with errors (inventory.Inventory.Check; Validate reports them
// too) is refused with a *inventory.ValidationError. Unless
// Offline, every step whose phase has a client observes the lab (read
// only) to find what really changes; the others keep the change they
// would make on an empty lab, and the plan says how much was observed.
// Then it checks that the Proxmox API token holds every privilege the
// steps that write will use (a *proxmox.MissingPrivilegesError names each
// missing one with its path); a converged lab asks nothing more.
func Plan(ctx context.Context, inv *inventory.Inventory, file *plan.File, opts PlanOptions) (*plan.Plan, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := inv.Check().Err(); err != nil {
		return nil, err
	}
	clients := opts.Clients
	if opts.Offline {
		clients = Clients{}
	}
	ro := runOptions{replace: opts.Replace, kubeconfig: opts.Kubeconfig, restore: opts.Restore}
	var unreach []plan.UnreachableNode
	if !opts.Offline && clients.Proxmox != nil {
		// N-1: a node PVE reports offline answers nothing; its guests
		// are skipped and the gates ask for a quorum of the rest.
		var err error
		if unreach, err = unreachable(ctx, inv, clients.Proxmox); err != nil {
			return nil, fmt.Errorf("plan %s: %w", file.Name, err)
		}
		ro.missing = missingGuests(unreach)
		if err := checkQuorum(inv, ro.missing); err != nil {
			return nil, fmt.Errorf("plan %s: %w", file.Name, err)
		}
	}
	reg, err := plan.NewRegistry(phases(clients, ro)...)
	if err != nil {
		return nil, err
	}
	p, err := plan.Compile(inv, file, reg)
	if err != nil {
		return nil, err
	}
	if len(unreach) > 0 {
		p.Unreachable = unreach
		skipUnreachable(p, unreach)
		logger.Debug("degraded plan", "unreachable", unreach)
	}
	p.HomelabVersion = Version
	p.Replace = slices.Clone(opts.Replace)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("plan %s: %w", file.Name, err)
	}
	logger.Debug("compiled plan", "plan", file.Name, "inventory", inv.Name, "steps", len(p.Steps), "offline", opts.Offline)
	if !opts.Offline {
		observeErr := plan.Observe(ctx, p, 8)
		if clients.Proxmox != nil {
			// Before the first write: a token that lacks a privilege
			// is named here, not by a 403 half-way through a run. A
			// read that failed may be one it lacks: then every
			// privilege the plan may use is checked.
			if err := proxmoxPreflight(ctx, inv, p, clients.Proxmox, observeErr == nil); err != nil {
				return nil, fmt.Errorf("plan %s: %w", file.Name, err)
			}
		}
		if observeErr != nil {
			return nil, fmt.Errorf("plan %s: %w", file.Name, observeErr)
		}
		if err := guestKeys(inv, p, clients); err != nil {
			return nil, fmt.Errorf("plan %s: %w", file.Name, err)
		}
		planBackup(inv, p, clients, opts.NoBackup)
	}
	return p, nil
}

// guestKeys refuses a plan of the real lab that makes or changes a guest
// whose authorized_keys file could not be read: the guest would come up
// without the key (inventory.CheckKeys). Load only warns about such a
// file, so that validate and plan --offline work where the keys are not.
func guestKeys(inv *inventory.Inventory, p *plan.Plan, c Clients) error {
	if c.AuthorizedKeysOptional || c.Proxmox == nil {
		return nil
	}
	var guests []string
	for _, s := range p.Steps {
		name, ok := strings.CutPrefix(string(s.ID), "guest/")
		if !ok || strings.Contains(name, "/") {
			continue
		}
		if a := s.Change.Action; a == step.Create || a == step.Update || a == step.Replace {
			guests = append(guests, name)
		}
	}
	if len(guests) == 0 {
		return nil
	}
	return inv.CheckKeys(guests...)
}
