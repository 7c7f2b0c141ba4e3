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

// sshPolicy says how guests' host keys are checked: homelab's own
// trust-on-first-use file (guests homelab created have keys nobody knew
// before), unless the caller set another policy.
type sshPolicy struct {
	pool     *remote.Pool
	secrets  inventory.Resolver
	hostKeys remote.HostKeyPolicy
	// address maps a guest's address to where it is really dialled (the
	// simulated lab's loopback listeners); nil dials it as it is.
	address func(netip.AddrPort) string
}

// dialer returns the HostDialer for inv's guests.
func (p sshPolicy) dialer(inv *inventory.Inventory) HostDialer {
	return func(name string) (remote.Host, error) {
		g, ok := inv.Guest(name)
		if !ok {
			return nil, fmt.Errorf("ssh: no guest %q in the inventory", name)
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
	}
	switch s.PrivateKey.Scheme() {
	case "":
		// the SSH agent
	case "file":
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
