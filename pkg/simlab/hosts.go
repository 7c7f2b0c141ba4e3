package simlab

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeadm"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/sim/host"
)

// startHosts starts a simulated Debian host (pkg/sim/host) per guest of
// inv, on the guest's address and network. A host is powered while the
// PVE simulator has its guest running: until then its SSH port refuses.
// The clients reach the hosts' SSH servers through pkg/remote with a key
// made for this lab, trusting their host keys on first use in a
// known_hosts file of the lab's own; made-up secrets stand in for the
// inventory's references (the same on every run of a lab kept in a
// StateDir, from the manifest's seed).
func (l *Lab) startHosts(inv *inventory.Inventory, o Options, seed string) error {
	dir := l.stateDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "homelab-simulated-lab-"); err != nil {
			return fmt.Errorf("simulated hosts: %w", err)
		}
	}
	l.dir = dir
	keyFile := filepath.Join(dir, "id_ed25519")
	signer, err := labKey(keyFile)
	if err != nil {
		return err
	}
	hosts, err := host.NewLab(host.LabOptions{
		AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()},
		Dir:            filepath.Join(dir, "hosts"),
		HAProxyBinary:  realHAProxy(),
		VRRPScale:      o.VRRPScale,
		Latency:        o.HostLatency,
		DNS:            l.Router.ResolveFrom,
		Logger:         o.Logger,
		Programs:       l.Kube.Programs(),
		Packages:       l.Kube.Packages(),
		Internet:       l.Kube.Internet(),
		// A guest created again is a new machine: the cluster forgets what
		// lived on its old disk (its etcd member's data, its kubelet).
		Wiped: l.Kube.Wiped,
		// A backend is up only when its apiserver (or another simulated
		// service) answers, so the VIP gate means what it says.
		StrictBackends: true,

		// A guest with cloud_init_upgrade holds apt's locks this long
		// after its first boot: short, so that demos stay fast.
		FirstBootUpgrade: FirstBootUpgrade,
	})
	if err != nil {
		return fmt.Errorf("simulated hosts: %w", err)
	}
	l.Hosts = hosts
	l.access.SSHKeyFile, l.access.SSHHosts = keyFile, map[string]string{}
	l.access.KnownHosts = filepath.Join(dir, "known_hosts")
	for i := range inv.Guests {
		g := &inv.Guests[i]
		spec := host.Spec{Name: g.Name, Address: netip.PrefixFrom(g.IP, 32), SSHPort: sshUser(g).Port, Power: l.power(g.VMID, g.IP),
			Instance: l.instance(g.VMID), CgroupV1: o.CgroupV1}
		if n, ok := inv.Network(g.Network); ok {
			spec.Address, spec.Gateway = netip.PrefixFrom(g.IP, n.CIDR.Bits()), n.Gateway
		}
		if u := sshUser(g).User; u != "root" {
			spec.Users = []string{u}
		}
		if g.Kind == inventory.KindVM {
			spec.CloudInit = l.cloudInit(g.VMID)
		}
		h, err := hosts.Add(spec)
		if err != nil {
			return fmt.Errorf("simulated hosts: %w", err)
		}
		l.access.SSHHosts[g.Name] = sshUser(g).User + "@" + h.Addr()
	}
	if l.stateDir != "" {
		// The saved known_hosts names guests by their addresses: name
		// them by this run's loopback ports.
		l.knownHosts = l.guestSSHAddresses(inv)
		if err := rewriteKnownHosts(filepath.Join(dir, "known_hosts"), l.knownHosts, func(h string) bool { return !isLoopback(h) }); err != nil {
			return fmt.Errorf("simulated hosts: %w", err)
		}
	}
	l.clients.Dial = hosts.Dial
	// A guest answers SSH as soon as it runs (the guests phase waited for
	// its port): dialing a host that does not run gives up quickly (it is
	// refused at once: 3 attempts, about half a second of backoff); a
	// slow handshake (a host blanking its disk, a thousand guests booting
	// on a loaded machine) has half a minute, as ssh's ConnectTimeout
	// would give a real one. The
	// lab's own key logs in, straight to the hosts' loopback listeners.
	l.clients = l.clients.WithSSH(inv, homelab.SSHOptions{
		KnownHosts: l.access.KnownHosts,
		Signers:    []ssh.Signer{signer},
		Address: func(ap netip.AddrPort) string {
			addr, _ := hosts.Address(ap)
			return addr // empty: "no address"
		},
		Remote: remote.Options{Logger: o.Logger, ConnectTimeout: 30 * time.Second, DialTimeout: 3 * time.Second},
	})
	l.clients.Secrets = madeUpSecrets(inv, seed)
	// A cluster taken up from the state directory serves its apiservers
	// again; the admin kubeconfig stays in the lab's directory, never the
	// user's; the gates look often and give up within a minute or two.
	l.Kube.Attach(hosts)
	l.clients.Kubeconfig = filepath.Join(dir, "kubeconfig")
	l.clients.KubeTimeouts = kubeadm.Timeouts{APIServer: time.Minute, ControlPlane: time.Minute, VIP: time.Minute,
		Endpoint: time.Minute, NodesReady: 2 * time.Minute, Command: 5 * time.Minute}
	l.clients.GatePoll = 100 * time.Millisecond
	return nil
}

// labKey returns the lab's SSH client key from file, making it (and
// writing it there) when the file does not exist.
func labKey(file string) (ssh.Signer, error) {
	if b, err := os.ReadFile(file); err == nil {
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("simulated hosts: key %s: %w", file, err)
		}
		return signer, nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("simulated hosts: key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("simulated hosts: key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "homelab simulated lab")
	if err != nil {
		return nil, fmt.Errorf("simulated hosts: key: %w", err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("simulated hosts: key: %w", err)
	}
	return signer, nil
}

// sshUser is a guest's SSH user and port, with the defaults.
func sshUser(g *inventory.Guest) inventory.SSH {
	s := inventory.SSH{User: "root", Port: 22}
	if g.SSH != nil {
		if g.SSH.User != "" {
			s.User = g.SSH.User
		}
		if g.SSH.Port != 0 {
			s.Port = g.SSH.Port
		}
	}
	return s
}

// power reports whether the PVE simulator runs the guest vmid with the
// address ip (in its ipconfig0 for VMs, net0 for containers): a guest
// configured with another address does not answer on this one.
func (l *Lab) power(vmid int, ip netip.Addr) func() bool {
	return func() bool {
		g, ok := l.Proxmox.Guest(vmid)
		return ok && g.Status == "running" && guestIP(g.Config) == ip
	}
}

// cloudInit reads what PVE's cloud-init drive tells the VM vmid when it
// boots: package_upgrade unless ciupgrade=0 (PVE 8.1+ defaults to 1), and
// the FQDN from name and searchdomain as PVE/QemuServer/Cloudinit.pm
// makes it.
func (l *Lab) cloudInit(vmid int) func() host.CloudInit {
	return func() host.CloudInit {
		g, _ := l.Proxmox.Guest(vmid)
		ci := host.CloudInit{Upgrade: g.Config["ciupgrade"] != "0", Hostname: g.Name}
		if d := g.Config["searchdomain"]; d != "" && g.Name != "" {
			ci.FQDN = g.Name + "." + d
		}
		return ci
	}
}

// instance is the machine the PVE simulator's guest vmid is (its
// instance ID and the host key its disk holds): a guest destroyed and
// created again is a new machine, with a blank disk and new host keys.
func (l *Lab) instance(vmid int) func() (string, []byte) {
	return func() (string, []byte) {
		g, ok := l.Proxmox.Guest(vmid)
		if !ok {
			return "", nil
		}
		return g.Instance, g.HostKey
	}
}

// guestIP reads a guest's address from ipconfig0 (VMs) or net0 (LXC).
func guestIP(cfg map[string]string) netip.Addr {
	for _, key := range []string{"ipconfig0", "net0"} {
		for _, part := range strings.Split(cfg[key], ",") {
			if v, ok := strings.CutPrefix(part, "ip="); ok {
				if p, err := netip.ParsePrefix(v); err == nil {
					return p.Addr()
				}
			}
		}
	}
	return netip.Addr{}
}

// realHAProxy is this machine's haproxy, which checks configs on the
// simulated hosts when it is installed ("" when not).
func realHAProxy() string {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy"
	}
	return ""
}

// madeUpSecrets resolves every secret reference of inv to a value made up
// for this lab from seed, the same on every call: letters and digits, 8
// of them for the VRRP password (what keepalived takes), 24 for the
// others.
func madeUpSecrets(inv *inventory.Inventory, seed string) func(inventory.SecretRef) (string, error) {
	var mu sync.Mutex
	made := map[inventory.SecretRef]string{}
	return func(ref inventory.SecretRef) (string, error) {
		if ref.Scheme() == "" {
			return "", fmt.Errorf("secret %q: not a reference (env:NAME or file:PATH)", string(ref))
		}
		mu.Lock()
		defer mu.Unlock()
		if v, ok := made[ref]; ok {
			return v, nil
		}
		sum := sha256.Sum256([]byte(seed + string(ref)))
		const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
		n := 24
		if inv.LoadBalancer != nil && ref == inv.LoadBalancer.VRRPPassword {
			n = 8
		}
		v := make([]byte, n)
		for i := range v {
			v[i] = alphabet[int(sum[i])%len(alphabet)]
		}
		made[ref] = string(v)
		return made[ref], nil
	}
}
