package loadbalancer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

// Phase is the "loadbalancers" phase kind.
type Phase struct{}

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
func (Phase) Steps(inv *inventory.Inventory) ([]*step.Step, error) {
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
		steps = append(steps, packages, sysctl, haproxy, keepalived)
		keepaliveds = append(keepaliveds, keepalived.ID)
	}
	for _, vip := range lb.VIPs {
		steps = append(steps, &step.Step{
			ID:          step.VIPGateID(vip.Name),
			Description: fmt.Sprintf("wait until exactly one load balancer holds VIP %s (%s)", vip.Name, vip.Address),
			Needs:       keepaliveds,
			Intent:      step.Change{Action: step.Run, Reason: "a gate: checked on every run"},
		})
	}
	return steps, nil
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
