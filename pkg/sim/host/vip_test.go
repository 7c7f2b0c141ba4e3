package host_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/loadbalancer"
	"github.com/homelabctl/homelab/pkg/sim/host"
)

// lbLab is the reference lab's load balancers and first control plane,
// configured as the loadbalancers phase would (the configs it renders),
// keepalived started on lb-1, lb-2, lb-3 in that order.
type lbLab struct {
	lab   *host.Lab
	power map[string]*atomic.Bool
	vips  []netip.Addr
}

func newLBLab(t *testing.T, opts host.LabOptions, authPass func(lb string) string) *lbLab {
	t.Helper()
	inv := loadInventory(t, "rachuna-net")
	if opts.VRRPScale == 0 {
		opts.VRRPScale = 0.02
	}
	lab, err := host.NewLab(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	l := &lbLab{lab: lab, power: map[string]*atomic.Bool{}}
	for _, v := range inv.LoadBalancer.VIPs {
		l.vips = append(l.vips, v.Address)
	}
	for _, name := range []string{"lb-1", "lb-2", "lb-3", "master-1"} {
		g, _ := inv.Guest(name)
		on := &atomic.Bool{}
		on.Store(true)
		l.power[name] = on
		spec := host.Spec{Name: name, Address: netip.PrefixFrom(g.IP, 24), Power: on.Load}
		if strings.HasPrefix(name, "lb-") {
			spec.Packages = []string{"haproxy", "keepalived", "curl"}
		}
		if _, err := lab.Add(spec); err != nil {
			t.Fatal(err)
		}
	}
	sysctl, _ := loadbalancer.RenderSysctl(inv)
	dropIn, _ := loadbalancer.RenderKeepalivedDropIn(inv)
	for _, g := range inv.LoadBalancers() {
		h, _ := lab.Host(g.Name)
		haproxy, err := loadbalancer.RenderHAProxy(inv, g)
		if err != nil {
			t.Fatal(err)
		}
		keepalived, err := loadbalancer.RenderKeepalived(inv, g, authPass(g.Name))
		if err != nil {
			t.Fatal(err)
		}
		put(t, h, loadbalancer.SysctlFile, sysctl)
		put(t, h, loadbalancer.HAProxyConfig, haproxy)
		put(t, h, loadbalancer.KeepalivedConfig, keepalived)
		put(t, h, loadbalancer.KeepalivedDropIn, dropIn)
		(cmdCase{cmd: "useradd -r -M -s /usr/sbin/nologin keepalived_script && sysctl -q -p " + loadbalancer.SysctlFile +
			" && systemctl daemon-reload && systemctl reload haproxy && systemctl restart keepalived"}).check(t, h)
	}
	return l
}

// until polls the holders of vip until ok accepts them, and returns them.
func (l *lbLab) until(t *testing.T, vip netip.Addr, what string, ok func([]string) bool) []string {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if got = l.lab.Holders(context.Background(), vip); ok(got) {
			return got
		}
	}
	t.Fatalf("VIP %s: waited for %s; holders %v", vip, what, got)
	return nil
}

func only(name string) func([]string) bool {
	return func(h []string) bool { return len(h) == 1 && h[0] == name }
}

// keepalived across the load balancers: every VIP finds one holder, the
// highest priority that started in time; HAProxy stopping, keepalived
// stopping or the host going off moves it to the best backup; a node that
// comes back does not take it back (nopreempt).
func TestVIPFailover(t *testing.T) {
	l := newLBLab(t, host.LabOptions{}, func(string) string { return "s1m-pass" })
	ctx := context.Background()
	for _, vip := range l.vips {
		l.until(t, vip, "lb-1, the highest priority", only("lb-1"))
	}
	lb1, _ := l.lab.Host("lb-1")
	lb2, _ := l.lab.Host("lb-2")
	// The gate's view: `ip -o addr show` lists the VIPs on eth0.
	_, out, _ := run(lb1, "root", "ip -o addr show")
	for _, vip := range l.vips {
		line := fmt.Sprintf("2: eth0    inet %s/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever\n", vip)
		if !strings.Contains(out, line) {
			t.Errorf("ip -o addr show on the holder:\n%s\nwant the line %q", out, line)
		}
	}

	(cmdCase{cmd: "systemctl stop haproxy"}).check(t, lb1)
	for _, vip := range l.vips {
		l.until(t, vip, "lb-2 after HAProxy stopped on lb-1", only("lb-2"))
	}
	(cmdCase{cmd: "systemctl start haproxy"}).check(t, lb1)
	// lb-1 is a backup again and hears lb-2: it does not take over, for
	// longer than its master-down timer.
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if h := l.lab.Holders(ctx, l.vips[0]); !slices.Equal(h, []string{"lb-2"}) {
			t.Fatalf("nopreempt: holders %v after lb-1 came back", h)
		}
	}

	(cmdCase{cmd: "systemctl stop keepalived"}).check(t, lb2)
	l.until(t, l.vips[0], "lb-1 after keepalived stopped on lb-2", only("lb-1"))
	if v := lb2.VIPs(); len(v) != 0 {
		t.Errorf("lb-2 keeps %v with keepalived stopped", v)
	}
	(cmdCase{cmd: "systemctl start keepalived"}).check(t, lb2)

	l.power["lb-1"].Store(false)
	l.until(t, l.vips[0], "lb-2 after lb-1 went off", only("lb-2"))
	l.power["lb-1"].Store(true)
	if c, err := l.lab.Dial(ctx, "tcp", "10.10.10.31:22"); err != nil {
		t.Fatalf("lb-1 is back, SSH refuses: %v", err)
	} else {
		c.Close()
	}
	if !lb1.Unit("haproxy").Active || !lb1.Unit("keepalived").Active || lb1.Sysctl("net.ipv4.ip_nonlocal_bind") != "1" {
		t.Errorf("lb-1 after boot: %+v %+v nonlocal_bind %s", lb1.Unit("haproxy"), lb1.Unit("keepalived"), lb1.Sysctl("net.ipv4.ip_nonlocal_bind"))
	}
	l.until(t, l.vips[0], "lb-2 to keep it", only("lb-2"))
}

// Nodes whose VRRP passwords differ do not hear each other: each holds
// the VIPs (split brain), which the VIP gate reports.
func TestVIPSplitBrain(t *testing.T) {
	l := newLBLab(t, host.LabOptions{}, func(lb string) string { return "pass-" + strings.TrimPrefix(lb, "lb-") })
	l.until(t, l.vips[0], "every node to hold it", func(h []string) bool { return len(h) == 3 })
}

// HAProxy over the lab's network: its monitor URI for keepalived's check,
// its stats page's CSV (read by pkg/loadbalancer's parser), backend
// servers up (or, with StrictBackends, down until something serves them,
// then checked over HTTP), traffic through the VIP to a served backend.
func TestHAProxyHTTP(t *testing.T) {
	l := newLBLab(t, host.LabOptions{StrictBackends: true}, func(string) string { return "s1m-pass" })
	lb1, _ := l.lab.Host("lb-1")
	master, _ := l.lab.Host("master-1")
	l.until(t, l.vips[0], "lb-1", only("lb-1"))
	for _, c := range []cmdCase{
		{cmd: "curl -sf -o /dev/null --max-time 1 http://127.0.0.1:8405/healthz"},
		{cmd: "curl -s http://127.0.0.1:8405/healthz", stdout: "~200 OK"},
		{cmd: "curl -sf http://127.0.0.1:9999/", status: 7},
		{cmd: "curl -S -s http://10.10.10.99:80/", status: 28, stderr: "~Timeout was reached"},
		{cmd: "curl -sS https://nosuch.example/", status: 6, stderr: "curl: (6) Could not resolve host: nosuch.example\n"},
		{cmd: "curl -sf http://10.10.10.10:6443/readyz", status: 52},
	} {
		c.check(t, lb1)
	}
	backends := func() map[string]loadbalancer.BackendStatus {
		t.Helper()
		_, out, _ := run(lb1, "root", "curl -sf --max-time 5 'http://10.10.10.31:8404/stats;csv'")
		states, err := loadbalancer.ParseStats([]byte(out))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		m := map[string]loadbalancer.BackendStatus{}
		for _, b := range states {
			m[b.Name] = b
		}
		return m
	}
	api := backends()["kube-apiserver"]
	if len(api.Servers) != 3 || len(api.NotUp()) != 3 || api.Servers[0].CheckStatus != "L4CON" || api.Status != "DOWN" {
		t.Fatalf("nothing serves the control planes yet: %+v", api)
	}
	ready := atomic.Bool{}
	master.Serve(6443, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && ready.Load() {
			fmt.Fprint(w, "ok")
			return
		}
		http.Error(w, "not ready", http.StatusInternalServerError)
	}))
	if s := backends()["kube-apiserver"].Servers[0]; s.Up() || s.CheckStatus != "L7STS" || s.CheckCode != "500" {
		t.Fatalf("an apiserver that is not ready: %s", s)
	}
	ready.Store(true)
	if s := backends()["kube-apiserver"].Servers[0]; !s.Up() || !s.Layer7() || s.CheckCode != "200" {
		t.Fatalf("a ready apiserver: %s", s)
	}
	(cmdCase{cmd: "curl -sf http://10.10.10.10:6443/readyz", stdout: "ok"}).check(t, lb1)
	lb2, _ := l.lab.Host("lb-2")
	(cmdCase{cmd: "curl -sf https://10.10.10.10:6443/readyz", stdout: "ok"}).check(t, lb2)
	// The admin socket, through socat once it is installed.
	(cmdCase{cmd: "echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock", status: 127, stderr: "bash: line 1: socat: command not found\n"}).check(t, lb1)
	(cmdCase{cmd: "apt-get install -y socat >/dev/null && echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock | head -n 1", stdout: "~# pxname,svname,"}).check(t, lb1)
}

// A lab taken up again from its Dir keeps its VIP holders: the real lab
// went on running between two processes. The reopened lab's VRRP timers
// are slowed a thousand times (an election would take 50 minutes), so
// only the restored state can answer at once.
func TestReopenedLabKeepsVIPHolders(t *testing.T) {
	dir := t.TempDir()
	l := newLBLab(t, host.LabOptions{Dir: dir}, func(string) string { return "s1m-pass" })
	var held [][]string
	for _, vip := range l.vips {
		held = append(held, l.until(t, vip, "one holder", func(h []string) bool { return len(h) == 1 }))
	}
	if err := l.lab.Close(); err != nil {
		t.Fatal(err)
	}
	inv := loadInventory(t, "rachuna-net")
	lab, err := host.NewLab(host.LabOptions{Dir: dir, VRRPScale: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	for _, g := range inv.LoadBalancers() {
		if _, err := lab.Add(host.Spec{Name: g.Name, Address: netip.PrefixFrom(g.IP, 24), Power: func() bool { return true },
			Packages: []string{"haproxy", "keepalived", "curl"}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, vip := range l.vips {
		if got := lab.Holders(context.Background(), vip); !slices.Equal(got, held[i]) {
			t.Errorf("VIP %s: held by %v after reopening, was %v", vip, got, held[i])
		}
	}
}
