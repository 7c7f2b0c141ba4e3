package loadbalancer

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"text/template"

	"github.com/homelabctl/homelab/pkg/inventory"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// tmpl holds every template of the package, parsed once.
var tmpl = template.Must(template.New("loadbalancer").ParseFS(templateFS, "templates/*.tmpl"))

// ManagedMark starts every file homelab writes on a load balancer. A file
// that does not start with it is not homelab's, and is never overwritten.
const ManagedMark = "# managed by homelab"

// Fixed parts of the rendered configuration.
const (
	// DefaultInterface is the interface keepalived holds the VIPs on:
	// Proxmox's cloud-init network config and LXC both name the first NIC
	// eth0.
	DefaultInterface = "eth0"
	// ScriptUser is the system user keepalived runs its check script as
	// (enable_script_security). Debian's package does not create it: the
	// packages step does (useradd -r -M -s /usr/sbin/nologin).
	ScriptUser = "keepalived_script"
	// HealthPort and HealthURI are HAProxy's monitor endpoint on
	// 127.0.0.1, which keepalived's check polls.
	HealthPort = 8405
	HealthURI  = "/healthz"
	// StatsURI is the path of the stats page on each load balancer's IP.
	StatsURI = "/stats"
	// checkScriptName is the vrrp_script that polls HealthURI.
	checkScriptName = "chk_haproxy"
)

// healthCheckCommand is the command keepalived runs to decide that HAProxy
// answers: curl, since `killall -0` fails under enable_script_security and
// vrrp_track_process does not work in network namespaces.
func healthCheckCommand() string {
	return fmt.Sprintf("/usr/bin/curl -sf -o /dev/null --max-time 1 http://127.0.0.1:%d%s", HealthPort, HealthURI)
}

// header is the first line of every rendered file.
func header(inv *inventory.Inventory) string {
	return fmt.Sprintf("%s (inventory %s); local changes are overwritten", ManagedMark, strings.Join(strings.Fields(inv.Name), "_"))
}

func execute(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	if b.Len() > 0 && b.Bytes()[b.Len()-1] != '\n' {
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// haproxyConfig is the data of haproxy.cfg.
type haproxyConfig struct {
	Header      string
	StatsSocket string
	Health      haproxyListener
	Stats       *haproxyListener
	Frontends   []haproxyFrontend
}

// haproxyListener is an internal frontend: the monitor or the stats page.
type haproxyListener struct {
	Name string
	Bind netip.AddrPort
	URI  string
}

// haproxyFrontend is one inventory frontend with its backend.
type haproxyFrontend struct {
	Name      string
	VIP       string
	Bind      netip.AddrPort
	Mode      string
	Role      string
	Port      int
	CheckDesc string
	HTTPCheck *httpCheck
	Servers   []haproxyServer
}

// httpCheck is an HTTP(S) health check: GET Path, up on status Expect.
type httpCheck struct {
	Path   string
	Expect int
}

// haproxyServer is one backend server: a guest with the backend's role.
type haproxyServer struct {
	Name    string
	Addr    netip.AddrPort
	Options string
}

// RenderHAProxy returns /etc/haproxy/haproxy.cfg for the load balancer lb:
// per inventory frontend a frontend bound on its VIP and a backend of the
// guests with the frontend's role, checked as the frontend says; the
// monitor endpoint keepalived polls on 127.0.0.1; the admin socket; and,
// unless turned off, the stats page on lb's own IP. The file is the same on
// every load balancer but for the stats page's address.
func RenderHAProxy(inv *inventory.Inventory, lb *inventory.Guest) ([]byte, error) {
	if lb == nil {
		return nil, errors.New("haproxy.cfg: no load balancer given")
	}
	cfg, err := haproxyConfigFor(inv, lb)
	if err != nil {
		return nil, fmt.Errorf("haproxy.cfg for %s: %w", lb.Name, err)
	}
	return execute("haproxy.cfg.tmpl", cfg)
}

func haproxyConfigFor(inv *inventory.Inventory, lb *inventory.Guest) (haproxyConfig, error) {
	l := inv.LoadBalancer
	if l == nil {
		return haproxyConfig{}, fmt.Errorf("the inventory has no loadbalancer section")
	}
	if err := configToken("stats socket", l.Stats.Socket); err != nil {
		return haproxyConfig{}, err
	}
	cfg := haproxyConfig{
		Header:      header(inv),
		StatsSocket: l.Stats.Socket,
		Health:      haproxyListener{Name: "homelab-health", Bind: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), HealthPort), URI: HealthURI},
	}
	if l.Stats.Port > 0 {
		if !lb.IP.IsValid() {
			return haproxyConfig{}, fmt.Errorf("load balancer %s has no IP to bind the stats page on", lb.Name)
		}
		cfg.Stats = &haproxyListener{Name: "homelab-stats", Bind: netip.AddrPortFrom(lb.IP, uint16(l.Stats.Port)), URI: StatsURI}
	}
	for _, f := range l.Frontends {
		fe, err := haproxyFrontendFor(inv, f)
		if err != nil {
			return haproxyConfig{}, fmt.Errorf("frontend %s: %w", f.Name, err)
		}
		cfg.Frontends = append(cfg.Frontends, fe)
	}
	return cfg, nil
}

func haproxyFrontendFor(inv *inventory.Inventory, f inventory.Frontend) (haproxyFrontend, error) {
	if err := proxyName("frontend name", f.Name); err != nil {
		return haproxyFrontend{}, err
	}
	if f.Name == "homelab-health" || f.Name == "homelab-stats" {
		return haproxyFrontend{}, fmt.Errorf("the name %q is homelab's own", f.Name)
	}
	vip, ok := inv.VIP(f.VIP)
	if !ok || !vip.Address.IsValid() {
		return haproxyFrontend{}, fmt.Errorf("unknown VIP %q", f.VIP)
	}
	if f.Mode != inventory.ModeTCP && f.Mode != inventory.ModeHTTP {
		return haproxyFrontend{}, fmt.Errorf("mode %q: want tcp or http", f.Mode)
	}
	if err := validPort(f.Port); err != nil {
		return haproxyFrontend{}, err
	}
	if err := validPort(f.Backend.Port); err != nil {
		return haproxyFrontend{}, fmt.Errorf("backend: %w", err)
	}
	fe := haproxyFrontend{
		Name: f.Name,
		VIP:  vip.Name,
		Bind: netip.AddrPortFrom(vip.Address, uint16(f.Port)),
		Mode: f.Mode,
		Role: f.Backend.Role,
		Port: f.Backend.Port,
	}
	options := "check"
	switch f.Check.Kind {
	case inventory.CheckTCP, "":
		fe.CheckDesc = "check: TCP connect"
	case inventory.CheckHTTP, inventory.CheckHTTPS:
		if err := configToken("check path", f.Check.Path); err != nil {
			return haproxyFrontend{}, err
		}
		expect := f.Check.Expect
		if expect == 0 {
			expect = 200
		}
		fe.HTTPCheck = &httpCheck{Path: f.Check.Path, Expect: expect}
		fe.CheckDesc = fmt.Sprintf("check: GET %s, up on HTTP %d", f.Check.Path, expect)
		if f.Check.Kind == inventory.CheckHTTPS {
			// TLS under the check only: the traffic itself passes through.
			options = "check check-ssl verify none"
			fe.CheckDesc = fmt.Sprintf("check: GET %s over TLS, up on HTTP %d", f.Check.Path, expect)
		}
	default:
		return haproxyFrontend{}, fmt.Errorf("check kind %q: want tcp, http or https", f.Check.Kind)
	}
	for _, g := range inv.GuestsWithRole(f.Backend.Role) {
		if err := proxyName("server name", g.Name); err != nil {
			return haproxyFrontend{}, err
		}
		if !g.IP.IsValid() {
			return haproxyFrontend{}, fmt.Errorf("guest %s (role %s) has no IP", g.Name, f.Backend.Role)
		}
		fe.Servers = append(fe.Servers, haproxyServer{Name: g.Name, Addr: netip.AddrPortFrom(g.IP, uint16(f.Backend.Port)), Options: options})
	}
	return fe, nil
}

// keepalivedConfig is the data of keepalived.conf.
type keepalivedConfig struct {
	Header     string
	RouterID   string
	ScriptUser string
	Script     vrrpScript
	Instances  []vrrpInstance
}

// vrrpScript is the check every instance tracks.
type vrrpScript struct {
	Name    string
	Command string
}

// vrrpInstance is one VIP as one load balancer holds it.
type vrrpInstance struct {
	Name      string
	VIPName   string
	Interface string
	RouterID  int
	Priority  int
	Source    netip.Addr
	Peers     []netip.Addr
	AuthPass  string
	Address   netip.Prefix
	Script    string
}

// RenderKeepalived returns /etc/keepalived/keepalived.conf for the load
// balancer lb: per VIP a vrrp_instance with the VIP's router ID and lb's
// priority, unicast to the other load balancers, tracking a check that
// HAProxy answers on its monitor endpoint. authPass is the resolved VRRP
// password; plans pass step.Redacted instead, so that the secret never
// enters a plan.
func RenderKeepalived(inv *inventory.Inventory, lb *inventory.Guest, authPass string) ([]byte, error) {
	if lb == nil {
		return nil, errors.New("keepalived.conf: no load balancer given")
	}
	cfg, err := keepalivedConfigFor(inv, lb, authPass)
	if err != nil {
		return nil, fmt.Errorf("keepalived.conf for %s: %w", lb.Name, err)
	}
	return execute("keepalived.conf.tmpl", cfg)
}

func keepalivedConfigFor(inv *inventory.Inventory, lb *inventory.Guest, authPass string) (keepalivedConfig, error) {
	l := inv.LoadBalancer
	if l == nil {
		return keepalivedConfig{}, fmt.Errorf("the inventory has no loadbalancer section")
	}
	if err := CheckAuthPass(authPass); err != nil {
		return keepalivedConfig{}, err
	}
	if err := proxyName("load balancer name", lb.Name); err != nil {
		return keepalivedConfig{}, err
	}
	if !lb.IP.IsValid() {
		return keepalivedConfig{}, fmt.Errorf("load balancer %s has no IP", lb.Name)
	}
	if lb.Priority < 1 || lb.Priority > 254 {
		return keepalivedConfig{}, fmt.Errorf("VRRP priority %d is outside 1..254", lb.Priority)
	}
	var peers []netip.Addr
	for _, p := range inv.LoadBalancers() {
		if p.Name == lb.Name {
			continue
		}
		if !p.IP.IsValid() {
			return keepalivedConfig{}, fmt.Errorf("peer %s has no IP", p.Name)
		}
		peers = append(peers, p.IP)
	}
	cfg := keepalivedConfig{
		Header:     header(inv),
		RouterID:   lb.Name,
		ScriptUser: ScriptUser,
		Script:     vrrpScript{Name: checkScriptName, Command: healthCheckCommand()},
	}
	for _, vip := range l.VIPs {
		if err := proxyName("VIP name", vip.Name); err != nil {
			return keepalivedConfig{}, err
		}
		if vip.RouterID < 1 || vip.RouterID > 255 {
			return keepalivedConfig{}, fmt.Errorf("VIP %s: VRRP router id %d is outside 1..255", vip.Name, vip.RouterID)
		}
		n, ok := inv.Network(vip.Network)
		if !ok || !n.CIDR.IsValid() {
			return keepalivedConfig{}, fmt.Errorf("VIP %s: unknown network %q", vip.Name, vip.Network)
		}
		if !vip.Address.IsValid() {
			return keepalivedConfig{}, fmt.Errorf("VIP %s has no address", vip.Name)
		}
		cfg.Instances = append(cfg.Instances, vrrpInstance{
			Name:      "VI_" + vip.Name,
			VIPName:   vip.Name,
			Interface: DefaultInterface,
			RouterID:  vip.RouterID,
			Priority:  lb.Priority,
			Source:    lb.IP,
			Peers:     peers,
			AuthPass:  authPass,
			Address:   netip.PrefixFrom(vip.Address, n.CIDR.Bits()),
			Script:    checkScriptName,
		})
	}
	return cfg, nil
}

// fileData is the data of the files that only carry the header.
type fileData struct {
	Header string
}

// RenderSysctl returns the sysctl.d file that lets HAProxy bind the VIPs
// on load balancers that do not hold them (net.ipv4.ip_nonlocal_bind=1).
func RenderSysctl(inv *inventory.Inventory) ([]byte, error) {
	return execute("sysctl.conf.tmpl", fileData{Header: header(inv)})
}

// RenderKeepalivedDropIn returns the systemd drop-in that orders keepalived
// after HAProxy (After= and Wants=, not Requires=).
func RenderKeepalivedDropIn(inv *inventory.Inventory) ([]byte, error) {
	return execute("keepalived-dropin.conf.tmpl", fileData{Header: header(inv)})
}

// proxyName checks a name HAProxy or keepalived takes as one word: HAProxy
// allows letters, digits and "-_.:" in proxy and server names.
func proxyName(what, name string) error {
	if name == "" {
		return fmt.Errorf("empty %s", what)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
		if !ok {
			return fmt.Errorf("%s %q: only letters, digits and -_.: are allowed", what, name)
		}
	}
	return nil
}

// configToken checks a value written as one word of a config line: no
// spaces, quotes, backslashes or comment characters.
func configToken(what, v string) error {
	if v == "" {
		return fmt.Errorf("empty %s", what)
	}
	for _, r := range v {
		if r <= ' ' || r > '~' || strings.ContainsRune("\"'\\#!{}", r) {
			return fmt.Errorf("%s %q: spaces, quotes, backslashes, braces, # and ! are not allowed", what, v)
		}
	}
	return nil
}

func validPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d is outside 1..65535", p)
	}
	return nil
}
