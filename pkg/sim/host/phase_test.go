package host_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/loadbalancer"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/proxmox"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/sim/host"
	"github.com/homelabctl/homelab/pkg/step"
)

// inventoryLab is a simulated host per guest of an inventory, reached
// through pkg/remote over real SSH on loopback.
type inventoryLab struct {
	inv  *inventory.Inventory
	lab  *host.Lab
	pool *remote.Pool
	dial loadbalancer.HostDialer
}

func newInventoryLab(t *testing.T, path string, opts host.LabOptions, edits ...func(*host.Spec)) *inventoryLab {
	t.Helper()
	inv, _, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	opts.AuthorizedKeys = []ssh.PublicKey{signer.PublicKey()}
	lab, err := host.NewLab(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	for _, g := range inv.Guests {
		n, _ := inv.Network(g.Network)
		spec := host.Spec{Name: g.Name, Address: netip.PrefixFrom(g.IP, n.CIDR.Bits()), Gateway: n.Gateway}
		if g.SSH != nil && g.SSH.User != "" && g.SSH.User != "root" {
			spec.Users = []string{g.SSH.User}
		}
		for _, edit := range edits {
			edit(&spec)
		}
		if _, err := lab.Add(spec); err != nil {
			t.Fatal(err)
		}
	}
	pool := remote.NewPool(remote.Options{ConnectTimeout: 10 * time.Second})
	t.Cleanup(func() { pool.Close() })
	tofu := filepath.Join(t.TempDir(), "known_hosts")
	dial := func(name string) (remote.Host, error) {
		g, _ := inv.Guest(name)
		addr, _ := lab.Address(netip.AddrPortFrom(g.IP, 22))
		user := "root"
		if g.SSH != nil && g.SSH.User != "" {
			user = g.SSH.User
		}
		return pool.Host(remote.Config{Name: name, Address: addr, User: user, Signers: []ssh.Signer{signer},
			HostKeys: remote.HostKeyPolicy{TOFUFile: tofu}})
	}
	return &inventoryLab{inv: inv, lab: lab, pool: pool, dial: dial}
}

// compile compiles the loadbalancers phase alone (the guests assumed booted)
// and runs it, returning the steps' output lines.
func (l *inventoryLab) compile(t *testing.T) *plan.Plan {
	t.Helper()
	phase := loadbalancer.Phase{Hosts: l.dial, GateTimeout: 10 * time.Second,
		Secrets: func(inventory.SecretRef) (string, error) { return "s1m-pass", nil }}
	reg, err := plan.NewRegistry(proxmox.Phase{}, phase)
	if err != nil {
		t.Fatal(err)
	}
	file := &plan.File{Name: "loadbalancers", Phases: []plan.PhaseRef{{Kind: "loadbalancers", Name: "loadbalancers"}}}
	p, err := plan.Compile(l.inv, file, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Observe(context.Background(), p, 4); err != nil {
		t.Fatal(err)
	}
	return p
}

func runPlan(t *testing.T, p *plan.Plan) ([]string, error) {
	t.Helper()
	var mu sync.Mutex
	var out []string
	sink := engine.SinkFunc(func(e engine.Event) {
		if e.Kind == engine.StepOutput {
			mu.Lock()
			out = append(out, string(e.Step)+": "+e.Line)
			mu.Unlock()
		}
	})
	_, err := engine.Run(context.Background(), p.Graph(), engine.Options{Parallelism: 4, Sink: sink})
	return out, err
}

// holders polls until exactly one load balancer holds vip (or the
// deadline passes) and returns the holders last seen.
func (l *inventoryLab) holders(t *testing.T, vip netip.Addr, not string) []string {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = l.lab.Holders(context.Background(), vip)
		if len(got) == 1 && got[0] != not {
			break
		}
	}
	return got
}

// The real loadbalancers phase against simulated hosts over real SSH:
// packages installed, files checked and installed, services started, one
// holder per VIP; a second run changes nothing; HAProxy stopping on the
// holder moves the VIP and the next run only starts it again; a config
// haproxy -c rejects is never installed.
func TestLoadBalancersPhaseOnSimulatedHosts(t *testing.T) {
	l := newInventoryLab(t, "../../../inventories/small.yaml", host.LabOptions{VRRPScale: 0.05})
	ctx := context.Background()
	p := l.compile(t)
	if sum := p.Summary(); sum.Create == 0 || !p.Observed {
		t.Fatalf("first plan: %+v", sum)
	}
	out, err := runPlan(t, p)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, strings.Join(out, "\n"))
	}
	vip := l.inv.LoadBalancer.VIPs[0].Address
	first := l.holders(t, vip, "")
	if len(first) != 1 {
		t.Fatalf("VIP %s holders after the run: %v", vip, first)
	}
	for _, lb := range []string{"lb-1", "lb-2"} {
		h, _ := l.lab.Host(lb)
		if !h.Installed("haproxy") || !h.Unit("haproxy").Active || !h.Unit("keepalived").Active || h.Sysctl("net.ipv4.ip_nonlocal_bind") != "1" {
			t.Errorf("%s: haproxy installed %v, units %+v %+v, nonlocal_bind %s", lb, h.Installed("haproxy"),
				h.Unit("haproxy"), h.Unit("keepalived"), h.Sysctl("net.ipv4.ip_nonlocal_bind"))
		}
	}

	// Converged: nothing to change, a run only passes the gate.
	p = l.compile(t)
	if sum := p.Summary(); sum.Create+sum.Update+sum.Conflict != 0 {
		t.Fatalf("second plan is not converged: %+v", sum)
	}
	out, err = runPlan(t, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range out {
		if !strings.Contains(line, "is held by") {
			t.Errorf("a converged run did something: %s", line)
		}
	}

	// HAProxy stops on the holder: keepalived's check moves the VIP; the
	// next plan only starts HAProxy again.
	old, _ := l.lab.Host(first[0])
	if st := old.Run(ctx, "root", "systemctl stop haproxy", nil, nil, nil); st != 0 {
		t.Fatalf("systemctl stop haproxy: exit %d", st)
	}
	second := l.holders(t, vip, old.Name())
	if len(second) != 1 || second[0] == old.Name() {
		t.Fatalf("VIP holders after HAProxy stopped on %s: %v", old.Name(), second)
	}
	p = l.compile(t)
	st, _ := p.Step(step.HAProxyID(old.Name()))
	if st.Change.Action != step.Update || len(st.Change.Files) != 0 {
		t.Fatalf("plan after HAProxy stopped: %s %+v", st.Change.Action.Name(), st.Change)
	}
	out, err = runPlan(t, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range out {
		if strings.Contains(line, "installed /") || strings.Contains(line, "reloaded") {
			t.Errorf("the run after HAProxy stopped changed a file: %s", line)
		}
	}
	// nopreempt: the old holder is back, the new one keeps the VIP.
	if h := l.holders(t, vip, ""); len(h) != 1 || h[0] != second[0] {
		t.Fatalf("VIP holders after HAProxy is back on %s: %v (nopreempt: want %s)", old.Name(), h, second[0])
	}

	// A change haproxy -c rejects is never installed: the running
	// configuration stays. (haproxy -c fails on lb-1 because its haproxy
	// user is gone.)
	lb1, _ := l.lab.Host("lb-1")
	if st := lb1.Run(ctx, "root", "sed -i '/^haproxy:/d' /etc/passwd", nil, nil, nil); st != 0 {
		t.Fatalf("sed: exit %d", st)
	}
	h1, _ := l.dial("lb-1")
	was, err := h1.Read(ctx, loadbalancer.HAProxyConfig)
	if err != nil {
		t.Fatal(err)
	}
	l.inv.LoadBalancer.Frontends[1].Backend.Port = 30444
	out, err = runPlan(t, l.compile(t))
	if err == nil || !strings.Contains(err.Error(), "not installed") || !strings.Contains(err.Error(), "cannot find user id for 'haproxy'") {
		t.Fatalf("a config haproxy -c rejects: %v", err)
	}
	now, _ := h1.Read(ctx, loadbalancer.HAProxyConfig)
	if string(now) != string(was) || !lb1.Unit("haproxy").Active {
		t.Fatalf("the rejected config reached %s (or HAProxy stopped)", loadbalancer.HAProxyConfig)
	}
	h2, _ := l.dial("lb-2")
	if cfg, _ := h2.Read(ctx, loadbalancer.HAProxyConfig); !strings.Contains(string(cfg), ":30444 check") {
		t.Errorf("lb-2, whose check passes, did not get the new config:\n%s", cfg)
	}
	for _, line := range out {
		if strings.Contains(line, "s1m-pass") {
			t.Errorf("output shows the VRRP password: %s", line)
		}
	}
}

// Fresh VMs from a Debian 12 cloud image under PVE's cloud-init: empty apt
// lists, and with ciupgrade (PVE's default) the first boot's upgrade
// holding dpkg's lock when sshd already answers. The loadbalancers phase
// waits for cloud-init, updates the lists and installs; a second plan
// changes nothing and its run does not touch apt.
func TestLoadBalancersPhaseOnFreshCloudImages(t *testing.T) {
	for _, upgrade := range []bool{true, false} {
		t.Run(fmt.Sprintf("ciupgrade=%v", upgrade), func(t *testing.T) {
			cloud := func(s *host.Spec) {
				s.CloudInit = func() host.CloudInit { return host.CloudInit{Upgrade: upgrade} }
			}
			l := newInventoryLab(t, "../../../inventories/small.yaml", host.LabOptions{VRRPScale: 0.05, FirstBootUpgrade: time.Second}, cloud)
			out, err := runPlan(t, l.compile(t))
			if err != nil {
				t.Fatalf("first run: %v\n%s", err, strings.Join(out, "\n"))
			}
			for _, lb := range []string{"lb-1", "lb-2"} {
				h, _ := l.lab.Host(lb)
				if !h.Installed("haproxy") || !h.Installed("keepalived") || !h.Unit("haproxy").Active {
					t.Errorf("%s: haproxy %v keepalived %v active %v", lb, h.Installed("haproxy"), h.Installed("keepalived"), h.Unit("haproxy").Active)
				}
			}
			p := l.compile(t)
			if sum := p.Summary(); sum.Create+sum.Update+sum.Conflict != 0 {
				t.Fatalf("second plan is not converged: %+v", sum)
			}
			before := len(l.lab.Hosts()[0].SSH().Log())
			if _, err := runPlan(t, p); err != nil {
				t.Fatal(err)
			}
			for _, c := range l.lab.Hosts()[0].SSH().Log()[before:] {
				if strings.Contains(c, "apt-get") || strings.Contains(c, "cloud-init") {
					t.Errorf("a converged run ran %q", c)
				}
			}
		})
	}
}
