package homelab

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
)

// HostDialer reaches a guest over SSH by its inventory name. Phases that
// work on hosts (load balancers, Kubernetes) take one.
type HostDialer func(guest string) (remote.Host, error)

// SSHOptions say how Clients reach the guests over SSH (see WithSSH).
type SSHOptions struct {
	// KnownHosts is the known_hosts file of the guests' host keys:
	// trusted on first use (unless the inventory's ssh.host_keys is
	// strict), learned through the Proxmox API or expected from a
	// create task's log, and forgotten when homelab removes a guest.
	KnownHosts string
	// Secrets resolves the guests' ssh.private_key references; the zero
	// value reads the environment and files.
	Secrets inventory.Resolver
	// Signers, when set, are the keys homelab logs in to every guest
	// with, instead of its ssh.private_key or the SSH agent.
	Signers []ssh.Signer
	// Address, when set, maps a guest's SSH address (its IP and port) to
	// the address dialled for it, directly: no ssh.jump host is used. An
	// empty result means the guest cannot be reached. A simulated lab
	// whose guests answer on loopback ports sets it.
	Address func(netip.AddrPort) string
	// Remote tunes the SSH connections (timeouts, logger).
	Remote remote.Options
}

// WithSSH returns c reaching inv's guests over SSH as opts say: Hosts
// (one cached connection per guest, closed by the returned Clients'
// Close) and the record of the guests' host keys the guests phase and
// Down keep in opts.KnownHosts. It replaces what c had for SSH without
// closing it: Connect's Clients already have it, so it is for Clients
// made otherwise (a simulated lab's).
func (c Clients) WithSSH(inv *inventory.Inventory, opts SSHOptions) Clients {
	c.pool = remote.NewPool(opts.Remote)
	policy := sshPolicy{pool: c.pool, secrets: opts.Secrets, signers: opts.Signers, address: opts.Address,
		hostKeys: remote.HostKeyPolicy{TOFUFile: opts.KnownHosts, Strict: inv.SSH.HostKeys == inventory.HostKeysStrict}}
	c.Hosts = policy.dialer(inv)
	c.hostKeys = newHostKeyBook(inv, policy)
	return c
}

// sshPolicy says how guests are reached and their host keys checked
// (see SSHOptions).
type sshPolicy struct {
	pool     *remote.Pool
	secrets  inventory.Resolver
	hostKeys remote.HostKeyPolicy
	// signers replace the guests' private keys when set.
	signers []ssh.Signer
	// address maps a guest's address to where it is really dialled (the
	// simulated lab's loopback listeners), without a jump host; nil dials
	// it as it is.
	address func(netip.AddrPort) string
}

// dialer returns the HostDialer for inv's guests.
func (p sshPolicy) dialer(inv *inventory.Inventory) HostDialer {
	return func(name string) (remote.Host, error) {
		g, ok := inv.Guest(name)
		if !ok {
			return nil, &UnknownGuestError{Guest: name}
		}
		cfg, err := p.config(g)
		if err != nil {
			return nil, err
		}
		return p.pool.Host(cfg)
	}
}

// config turns a guest's ssh settings into a remote.Config.
func (p sshPolicy) config(g *inventory.Guest) (remote.Config, error) {
	s := inventory.SSH{User: "root", Port: 22}
	if g.SSH != nil {
		s = *g.SSH
		if s.Port == 0 {
			s.Port = 22
		}
		if s.User == "" {
			s.User = "root"
		}
	}
	target := netip.AddrPortFrom(g.IP, uint16(s.Port))
	cfg := remote.Config{Name: g.Name, Address: target.String(), User: s.User, HostKeys: p.hostKeys}
	if p.address != nil {
		cfg.Address = p.address(target)
		s.Jump = ""
	}
	switch {
	case len(p.signers) > 0:
		cfg.Signers = p.signers
	case s.PrivateKey.Scheme() == "":
		// the SSH agent
	case s.PrivateKey.Scheme() == "file":
		cfg.KeyFile = s.PrivateKey.Target()
	default:
		pem, err := p.secrets.Resolve(s.PrivateKey)
		if err != nil {
			return cfg, fmt.Errorf("ssh %s: private key: %w", g.Name, err)
		}
		signer, err := ssh.ParsePrivateKey([]byte(pem))
		if err != nil {
			return cfg, fmt.Errorf("ssh %s: private key %s: %w", g.Name, s.PrivateKey, err)
		}
		cfg.Signers = []ssh.Signer{signer}
	}
	if s.Jump != "" {
		host, port, err := net.SplitHostPort(s.Jump)
		if err != nil {
			host, port = s.Jump, "22"
		}
		user := s.User
		if at := strings.LastIndex(host, "@"); at >= 0 {
			user, host = host[:at], host[at+1:]
		}
		jump := cfg
		jump.Name, jump.Address, jump.User, jump.Jump = "jump "+host, net.JoinHostPort(host, port), user, nil
		cfg.Jump = &jump
	}
	return cfg, nil
}
