package loadbalancer

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// Phase is the "loadbalancers" phase kind. With Hosts its steps observe
// and apply on the load balancers over SSH; without, they are planned only.
type Phase struct {
	Hosts HostDialer
	// Secrets resolves the inventory's secret references (keepalived's
	// auth_pass) when a step observes or applies; secrets never reach a
	// plan.
	Secrets func(inventory.SecretRef) (string, error)
	// GateTimeout bounds the wait for a VIP (default 2 minutes).
	GateTimeout time.Duration
	// GatePoll is the pause between two looks of a VIP gate (default 1s).
	GatePoll time.Duration
	// Running, when set, says whether the hypervisor runs a guest: steps
	// on a load balancer that does not run yet are planned as on a fresh
	// host without waiting for its SSH.
	Running func(ctx context.Context, g *inventory.Guest) (bool, error)
	// Missing names the guests on offline Proxmox nodes (a degraded
	// run): the VIP gates look for the holder among the other load
	// balancers.
	Missing []string

	// silence holds, while the steps of one Steps call observe, the load
	// balancers that did not answer a moment ago.
	silence *remote.Silence
	// running wraps Running for one Steps call; nil: not known.
	running func(ctx context.Context, guest string) bool
}

// Kind returns "loadbalancers".
func (Phase) Kind() string { return "loadbalancers" }

// Description says what the phase does.
func (Phase) Description() string {
	return "HAProxy and keepalived on the load balancers, holding the VIPs"
}

// Paths of the files the phase writes on a load balancer.
const (
	HAProxyConfig    = "/etc/haproxy/haproxy.cfg"
	KeepalivedConfig = "/etc/keepalived/keepalived.conf"
	SysctlFile       = "/etc/sysctl.d/90-homelab-nonlocal-bind.conf"
	KeepalivedDropIn = "/etc/systemd/system/keepalived.service.d/10-homelab-after-haproxy.conf"
)

// File modes of the files the phase writes: keepalived.conf carries the
// VRRP password.
const (
	ConfigMode     = "0644"
	KeepalivedMode = "0640"
)

// Steps returns per load balancer its packages, sysctl, haproxy.cfg and
// keepalived.conf steps, and per VIP a gate. Each file step's intent carries
// the files it writes, rendered in full; keepalived.conf's auth_pass shows
// as step.Redacted (the real value is rendered at apply time).
func (p Phase) Steps(inv *inventory.Inventory) ([]*step.Step, error) {
	p.silence = &remote.Silence{For: observeTimeout}
	if p.Running != nil {
		running := p.Running
		p.running = func(ctx context.Context, guest string) bool {
			g, ok := inv.Guest(guest)
			if !ok {
				return true
			}
			up, err := running(ctx, g)
			return err != nil || up // when PVE cannot tell, ask the guest
		}
	}
	lb := inv.LoadBalancer
	if lb == nil {
		return nil, nil
	}
	sysctlConf, err := RenderSysctl(inv)
	if err != nil {
		return nil, err
	}
	dropIn, err := RenderKeepalivedDropIn(inv)
	if err != nil {
		return nil, err
	}
	var steps []*step.Step
	var keepaliveds []step.ID
	var lbs []string
	for _, g := range inv.LoadBalancers() {
		haproxyCfg, err := RenderHAProxy(inv, g)
		if err != nil {
			return nil, err
		}
		keepalivedConf, err := RenderKeepalived(inv, g, step.Redacted)
		if err != nil {
			return nil, err
		}
		boot := step.GuestBootID(g.Name)
		packages := &step.Step{
			ID:          step.ID("lb/packages/" + g.Name),
			Description: fmt.Sprintf("install haproxy and keepalived on %s where missing", g.Name),
			Needs:       []step.ID{boot},
			Intent: step.Change{Action: step.Create, Fields: []step.Field{
				step.Set("packages", Packages),
				step.Set("script user", ScriptUser),
			}},
		}
		sysctl := &step.Step{
			ID:          step.ID("lb/sysctl/" + g.Name),
			Description: fmt.Sprintf("let HAProxy bind the VIPs on %s before it holds them", g.Name),
			Needs:       []step.ID{boot},
			Intent: step.Change{
				Action: step.Create,
				Fields: []step.Field{step.Set("net.ipv4.ip_nonlocal_bind", "1")},
				Files:  []step.File{{Host: g.Name, Path: SysctlFile, Mode: ConfigMode, Content: string(sysctlConf)}},
			},
		}
		haproxy := &step.Step{
			ID:          step.HAProxyID(g.Name),
			Description: fmt.Sprintf("install %s on %s, check it with haproxy -c, reload", HAProxyConfig, g.Name),
			Needs:       []step.ID{packages.ID, sysctl.ID},
			Intent: step.Change{
				Action: step.Create,
				Fields: haproxyFields(inv),
				Files:  []step.File{{Host: g.Name, Path: HAProxyConfig, Mode: ConfigMode, Content: string(haproxyCfg)}},
			},
		}
		keepalived := &step.Step{
			ID:          step.KeepalivedID(g.Name),
			Description: fmt.Sprintf("install %s on %s (priority %d), check it, start after haproxy", KeepalivedConfig, g.Name, g.Priority),
			Needs:       []step.ID{haproxy.ID},
			Intent: step.Change{
				Action: step.Create,
				Fields: keepalivedFields(inv, g),
				Files: []step.File{
					{Host: g.Name, Path: KeepalivedConfig, Mode: KeepalivedMode, Content: string(keepalivedConf)},
					{Host: g.Name, Path: KeepalivedDropIn, Mode: ConfigMode, Content: string(dropIn)},
				},
			},
		}
		if p.Hosts != nil {
			p.attach(inv, g, packages, sysctl, haproxy, keepalived, haproxyCfg, sysctlConf, dropIn)
		}
		steps = append(steps, packages, sysctl, haproxy, keepalived)
		keepaliveds = append(keepaliveds, keepalived.ID)
		if !slices.Contains(p.Missing, g.Name) {
			lbs = append(lbs, g.Name)
		}
	}
	for _, vip := range lb.VIPs {
		gate := &step.Step{
			ID:          step.VIPGateID(vip.Name),
			Description: fmt.Sprintf("wait until exactly one load balancer holds VIP %s (%s)", vip.Name, vip.Address),
			Needs:       keepaliveds,
			Intent:      step.Change{Action: step.Run, Reason: "a gate: checked on every run"},
		}
		if p.Hosts != nil {
			gate.Work = vipGate{hosts: p.Hosts, silence: p.silence, running: p.running, lbs: lbs, offline: len(inv.LoadBalancers()) - len(lbs), name: vip.Name, vip: vip.Address, timeout: p.GateTimeout, poll: p.GatePoll}
		}
		steps = append(steps, gate)
	}
	return steps, nil
}

// attachHAProxy gives the haproxy step its work: check with haproxy -c,
// install, reload (or start).
func (p Phase) attachHAProxy(guest string, haproxy *step.Step, haproxyCfg []byte) {
	haproxy.Work = filesWork{hosts: p.Hosts, silence: p.silence, running: p.running, guest: guest, active: "haproxy.service", intent: haproxy.Intent,
		files: []file{{path: HAProxyConfig, mode: 0o644, content: func() ([]byte, error) { return haproxyCfg, nil }}},
		validate: func(ctx context.Context, run Runner, _ remote.Host, tmp []string) error {
			_, err := CheckHAProxy(ctx, run, tmp[0])
			return err
		},
		after: func(ctx context.Context, h remote.Host, changed bool, out io.Writer) error {
			return ensureService(ctx, h, guest, "haproxy.service", changed, "reload", out)
		},
	}
}

// attach gives a load balancer's steps their work over SSH.
func (p Phase) attach(inv *inventory.Inventory, g *inventory.Guest, packages, sysctl, haproxy, keepalived *step.Step, haproxyCfg, sysctlConf, dropIn []byte) {
	fixed := func(b []byte) func() ([]byte, error) { return func() ([]byte, error) { return b, nil } }
	password := func() (string, error) {
		if p.Secrets == nil {
			return "", fmt.Errorf("no way to resolve loadbalancer.vrrp_password")
		}
		pw, err := p.Secrets(inv.LoadBalancer.VRRPPassword)
		if err != nil {
			return "", fmt.Errorf("loadbalancer.vrrp_password: %w", err)
		}
		return pw, CheckAuthPass(pw)
	}
	packages.Work = packagesWork{hosts: p.Hosts, silence: p.silence, running: p.running, guest: g.Name, intent: packages.Intent}
	sysctl.Work = filesWork{hosts: p.Hosts, silence: p.silence, running: p.running, guest: g.Name, intent: sysctl.Intent,
		files: []file{{path: SysctlFile, mode: 0o644, content: fixed(sysctlConf)}},
		after: func(ctx context.Context, h remote.Host, changed bool, out io.Writer) error {
			if !changed {
				return nil
			}
			if err := systemctl(ctx, h, g.Name, "sysctl -q -p "+remote.Quote(SysctlFile)); err != nil {
				return err
			}
			fmt.Fprintln(out, "applied net.ipv4.ip_nonlocal_bind=1")
			return nil
		},
	}
	p.attachHAProxy(g.Name, haproxy, haproxyCfg)
	keepalivedConf := func() ([]byte, error) {
		pw, err := password()
		if err != nil {
			return nil, err
		}
		return RenderKeepalived(inv, g, pw)
	}
	secrets := func() []string {
		pw, _ := password()
		return []string{pw}
	}
	keepalived.Work = filesWork{hosts: p.Hosts, silence: p.silence, running: p.running, guest: g.Name, active: "keepalived.service", secrets: secrets, intent: keepalived.Intent,
		files: []file{
			{path: KeepalivedConfig, mode: 0o640, content: keepalivedConf, shown: RedactAuthPass},
			{path: KeepalivedDropIn, mode: 0o644, content: fixed(dropIn)},
		},
		validate: func(ctx context.Context, run Runner, h remote.Host, tmp []string) error {
			conf, err := keepalivedConf()
			if err != nil {
				return err
			}
			stripped := tmp[0] + ".noscripts"
			if _, err := h.Sync(ctx, remote.File{Path: stripped, Content: StripScripts(conf), Mode: 0o600}); err != nil {
				return err
			}
			defer h.Run(ctx, remote.Command{Script: "rm -f " + remote.Quote(stripped)})
			_, err = CheckKeepalived(ctx, run, tmp[0], stripped)
			return err
		},
		after: func(ctx context.Context, h remote.Host, changed bool, out io.Writer) error {
			if changed {
				if err := systemctl(ctx, h, g.Name, "systemctl daemon-reload"); err != nil {
					return err
				}
			}
			return ensureService(ctx, h, g.Name, "keepalived.service", changed, "reload", out)
		},
	}
}

// Packages are the Debian packages the phase installs on a load balancer;
// curl runs keepalived's check of HAProxy.
const Packages = "haproxy keepalived curl"

func haproxyFields(inv *inventory.Inventory) []step.Field {
	var fields []step.Field
	for _, f := range inv.LoadBalancer.Frontends {
		vip, _ := inv.VIP(f.VIP)
		var servers []string
		for _, g := range inv.GuestsWithRole(f.Backend.Role) {
			servers = append(servers, fmt.Sprintf("%s:%d", g.IP, f.Backend.Port))
		}
		check := f.Check.Kind
		if f.Check.Path != "" {
			check += " " + f.Check.Path
		}
		addr := "?"
		if vip != nil {
			addr = vip.Address.String()
		}
		fields = append(fields, step.Set("frontend "+f.Name,
			fmt.Sprintf("%s:%d %s -> %s (check %s)", addr, f.Port, f.Mode, strings.Join(servers, " "), check)))
	}
	if port := inv.LoadBalancer.Stats.Port; port > 0 {
		fields = append(fields, step.Set("stats", "port "+strconv.Itoa(port)+", socket "+inv.LoadBalancer.Stats.Socket))
	} else {
		fields = append(fields, step.Set("stats", "socket "+inv.LoadBalancer.Stats.Socket))
	}
	return fields
}

func keepalivedFields(inv *inventory.Inventory, g *inventory.Guest) []step.Field {
	var fields []step.Field
	var peers []string
	for _, p := range inv.LoadBalancers() {
		if p.Name != g.Name {
			peers = append(peers, p.IP.String())
		}
	}
	for _, vip := range inv.LoadBalancer.VIPs {
		to := "unicast peers " + strings.Join(peers, " ")
		if len(peers) == 0 {
			to = "no peers"
		}
		fields = append(fields, step.Set("vrrp_instance "+vip.Name,
			fmt.Sprintf("%s vrid %d priority %d %s", vip.Address, vip.RouterID, g.Priority, to)))
	}
	fields = append(fields, step.SensitiveField("auth_pass"))
	return fields
}
