package loadbalancer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homelabctl/homelab/internal/lab"
	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/loadbalancer"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/proxmox"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// stubEnv makes the test binary a stub kube-apiserver: TLS on the address
// it names, answering /readyz with "ok". The lab starts it inside the
// control-plane hosts' network namespaces.
const stubEnv = "HOMELAB_LAB_APISERVER_STUB"

func TestMain(m *testing.M) {
	if addr := os.Getenv(stubEnv); addr != "" {
		serveStub(addr)
		return
	}
	os.Exit(m.Run())
}

func serveStub(addr string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	host, _ := os.Hostname()
	srv := &http.Server{Addr: addr,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/readyz" {
				fmt.Fprintf(w, "ok from %s %s", host, addr)
				return
			}
			http.NotFound(w, r)
		})}
	srv.ListenAndServeTLS("", "")
}

const labInventory = `name: lbtest
proxmox:
  endpoint: https://127.0.0.1:8006/api2/json
  tls: { insecure: true }
  token_id: homelab@pve!homelab
  token_secret: env:UNUSED
  nodes: [{ name: pve }]
  storage: local-lvm
  templates:
    vm: [{ name: debian-12-cloud, vmid: 9000, node: pve }]
router:
  address: 127.0.0.1:8728
  tls: { insecure: true }
  username: homelab
  password: env:UNUSED
  domain: lab.test
networks:
  - name: lab
    vlan: 30
    trunk_ports: [ether2]
    cidr: {{net}}.0/24
    gateway: {{net}}.1
    dns: [{{net}}.1]
    proxmox: { bridge: vmbr0 }
defaults:
  vm:
    template: debian-12-cloud
    cores: 1
    memory: 1024
    disk: 10
    ssh: { user: root, private_key: "file:{{key}}" }
guests:
  - { name: lb-1, kind: vm, node: pve, vmid: 201, network: lab, ip: {{net}}.11, roles: [loadbalancer] }
  - { name: lb-2, kind: vm, node: pve, vmid: 202, network: lab, ip: {{net}}.12, roles: [loadbalancer] }
  - { name: lb-3, kind: vm, node: pve, vmid: 203, network: lab, ip: {{net}}.13, roles: [loadbalancer] }
  - { name: cp-1, kind: vm, node: pve, vmid: 211, network: lab, ip: {{net}}.14, roles: [control-plane] }
  - { name: cp-2, kind: vm, node: pve, vmid: 212, network: lab, ip: {{net}}.15, roles: [control-plane] }
  - { name: cp-3, kind: vm, node: pve, vmid: 213, network: lab, ip: {{net}}.16, roles: [control-plane] }
loadbalancer:
  vrrp_password: env:UNUSED
  vips:
    - { name: api, address: {{net}}.100, network: lab, router_id: 51, dns: [k8s-api] }
  frontends:
    - name: kube-apiserver
      vip: api
      port: 6443
      mode: tcp
      backend: { role: control-plane, port: 6443 }
      check: { kind: https, path: /readyz }
`

// The loadbalancers phase with the real homelab code over real SSH, on
// real hosts (systemd, OpenSSH, HAProxy 2.6, keepalived 2.2) in network
// namespaces: one load balancer holds the VIP; TCP and HTTPS /readyz
// through VIP:6443 reach a control plane; stopping HAProxy on the holder
// moves the VIP; a second run changes no file and reloads nothing; a
// configuration haproxy -c rejects is never installed.
func TestLoadBalancersOnLab(t *testing.T) {
	if err := lab.Available(); err != nil {
		if os.Getenv("HOMELAB_REQUIRE_LAB") == "1" {
			t.Fatalf("lab required: %v", err)
		}
		t.Skipf("no lab here: %v", err)
	}
	ctx := context.Background()
	subnet := netip.MustParsePrefix(fmt.Sprintf("10.232.%d.0/24", os.Getpid()%250))
	hosts := []lab.HostSpec{{Name: "lb-1"}, {Name: "lb-2"}, {Name: "lb-3"}, {Name: "cp-1", Bare: true}, {Name: "cp-2", Bare: true}, {Name: "cp-3", Bare: true}, {Name: "client", Bare: true}}
	l, err := lab.Start(ctx, lab.Options{Prefix: "hlb", Subnet: subnet, Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	net := strings.TrimSuffix(subnet.Addr().String(), ".0")

	// Stub apiservers on the control planes.
	for _, cp := range []string{"cp-1", "cp-2", "cp-3"} {
		cmd, err := l.Command(cp, os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(os.Environ(), stubEnv+"="+l.Host(cp).IP.String()+":6443")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
	}

	dir := t.TempDir()
	invPath := filepath.Join(dir, "lbtest.yaml")
	text := strings.NewReplacer("{{net}}", net, "{{key}}", l.KeyFile()).Replace(labInventory)
	if err := os.WriteFile(invPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, _, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool(remote.Options{})
	defer pool.Close()
	dial := func(name string) (remote.Host, error) {
		g, _ := inv.Guest(name)
		return pool.Host(remote.Config{Name: name, Address: netip.AddrPortFrom(g.IP, 22).String(), User: "root", KeyFile: l.KeyFile(),
			HostKeys: remote.HostKeyPolicy{TOFUFile: filepath.Join(dir, "known_hosts")}})
	}
	const password = "lab-vrrp"
	phase := loadbalancer.Phase{Hosts: dial, Secrets: func(inventory.SecretRef) (string, error) { return password, nil }, GateTimeout: time.Minute}
	// The guests phase (offline) is registered so that the boot steps the
	// load balancers need are known; the plan assumes them done.
	reg, err := plan.NewRegistry(proxmox.Phase{}, phase)
	if err != nil {
		t.Fatal(err)
	}
	file := &plan.File{Name: "loadbalancers", Phases: []plan.PhaseRef{{Kind: "loadbalancers", Name: "loadbalancers"}}}
	compile := func() *plan.Plan {
		t.Helper()
		p, err := plan.Compile(inv, file, reg)
		if err != nil {
			t.Fatal(err)
		}
		if err := plan.Observe(ctx, p, 4); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var outMu sync.Mutex
	var output []string
	sink := engine.SinkFunc(func(e engine.Event) {
		if e.Kind == engine.StepOutput {
			outMu.Lock()
			output = append(output, string(e.Step)+": "+e.Line)
			outMu.Unlock()
		}
	})

	p := compile()
	if sum := p.Summary(); sum.Create == 0 {
		t.Fatalf("first plan: %+v", sum)
	}
	if _, err := engine.Run(ctx, p.Graph(), engine.Options{Parallelism: 4, Sink: sink}); err != nil {
		t.Fatalf("first run: %v\noutput:\n%s", err, strings.Join(output, "\n"))
	}

	holders := func() []string {
		var out []string
		for _, lb := range []string{"lb-1", "lb-2", "lb-3"} {
			o, _ := l.Exec(ctx, lb, "ip", "-o", "addr", "show", "dev", "eth0")
			if strings.Contains(string(o), " "+net+".100/") {
				out = append(out, lb)
			}
		}
		return out
	}
	if h := holders(); len(h) != 1 {
		t.Fatalf("VIP holders after the run: %v", h)
	}
	through := func() (string, error) {
		o, err := l.Exec(ctx, "client", "curl", "-sk", "--max-time", "3", "https://"+net+".100:6443/readyz")
		return string(o), err
	}
	if body, err := through(); err != nil || !strings.HasPrefix(body, "ok from") {
		t.Fatalf("HTTPS /readyz through the VIP: %q %v", body, err)
	}
	// HAProxy's own view: every control plane up after a layer-7 check
	// (right after a reload they show UP with check INI, which does not
	// count: wait for the checks).
	lb1, _ := inv.Guest("lb-1")
	h1, _ := dial("lb-1")
	var api loadbalancer.BackendStatus
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		states, err := loadbalancer.BackendStates(ctx, h1, inv, lb1)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range states {
			if b.Name == "kube-apiserver" {
				api = b
			}
		}
		if len(api.Servers) == 3 && len(api.NotUp()) == 0 {
			break
		}
	}
	if len(api.Servers) != 3 || len(api.NotUp()) != 0 {
		t.Fatalf("kube-apiserver backends as HAProxy sees them: %+v", api)
	}
	for _, s := range api.Servers {
		if !s.Layer7() {
			t.Errorf("%s is up without a layer-7 check: %s", s.Server, s)
		}
	}
	if o, err := l.Exec(ctx, "client", "bash", "-c", "exec 3<>/dev/tcp/"+net+".100/6443 && echo connected"); err != nil || !strings.Contains(string(o), "connected") {
		t.Fatalf("TCP through the VIP: %q %v", o, err)
	}

	// Failover: HAProxy dies on the holder; keepalived's check moves the VIP.
	old := holders()[0]
	if _, err := l.Exec(ctx, old, "systemctl", "stop", "haproxy"); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	var now []string
	for time.Since(begin) < 30*time.Second {
		if now = holders(); len(now) == 1 && now[0] != old {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(now) != 1 || now[0] == old {
		t.Fatalf("VIP did not move from %s within 30s: holders %v", old, now)
	}
	t.Logf("VIP moved from %s to %s %s after HAProxy stopped", old, now[0], time.Since(begin).Round(100*time.Millisecond))
	if body, err := through(); err != nil || !strings.HasPrefix(body, "ok from") {
		t.Fatalf("/readyz through the VIP after failover: %q %v", body, err)
	}

	// The stopped HAProxy is the only drift: the next plan says so, and
	// the run after it starts HAProxy and changes no file.
	p2 := compile()
	st, _ := p2.Step(step.HAProxyID(old))
	if st.Change.Action != step.Update || len(st.Change.Files) != 0 {
		t.Fatalf("plan after HAProxy stopped on %s: %s %+v", old, st.Change.Action.Name(), st.Change)
	}
	output = nil
	if _, err := engine.Run(ctx, p2.Graph(), engine.Options{Parallelism: 4, Sink: sink}); err != nil {
		t.Fatalf("second run: %v", err)
	}
	for _, line := range output {
		if strings.Contains(line, "installed /") || strings.Contains(line, "reloaded") {
			t.Errorf("the second run changed something: %s", line)
		}
	}
	if sum := compile().Summary(); sum.Create+sum.Update+sum.Conflict != 0 {
		t.Fatalf("third plan is not converged: %+v", sum)
	}
	output = nil
	if _, err := engine.Run(ctx, compile().Graph(), engine.Options{Parallelism: 4, Sink: sink}); err != nil {
		t.Fatalf("third run: %v", err)
	}
	for _, line := range output {
		if !strings.Contains(line, "is held by") {
			t.Errorf("a converged run did something: %s", line)
		}
	}

	// Someone edits haproxy.cfg by hand: the plan shows the file with a
	// unified diff, and a run puts it back.
	if _, err := l.Exec(ctx, "lb-3", "sed", "-i", "s/timeout connect 5s/timeout connect 9s/", loadbalancer.HAProxyConfig); err != nil {
		t.Fatal(err)
	}
	st, _ = compile().Step(step.HAProxyID("lb-3"))
	if st.Change.Action != step.Update || len(st.Change.Files) != 1 ||
		!strings.Contains(st.Change.Files[0].Diff, "-    timeout connect 9s\n+    timeout connect 5s") {
		t.Fatalf("hand-edited haproxy.cfg: %s %+v", st.Change.Action.Name(), st.Change.Files)
	}
	if _, err := engine.Run(ctx, compile().Graph(), engine.Options{Parallelism: 4}); err != nil {
		t.Fatalf("run after the hand edit: %v", err)
	}

	// A configuration that haproxy -c rejects is never installed, and the
	// running HAProxy keeps serving.
	h, _ := dial("lb-1")
	before, err := h.Read(ctx, loadbalancer.HAProxyConfig)
	if err != nil {
		t.Fatal(err)
	}
	broken := loadbalancer.BrokenConfigWork(dial, "lb-1", append(append([]byte{}, before...), []byte("\nbackend broken\n    servr nope 1.2.3.4:1\n")...))
	err = broken.Apply(ctx, step.Change{Action: step.Update}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not installed") || !strings.Contains(err.Error(), "servr") {
		t.Fatalf("broken config: %v", err)
	}
	after, _ := h.Read(ctx, loadbalancer.HAProxyConfig)
	if string(after) != string(before) {
		t.Fatal("a rejected config reached /etc/haproxy/haproxy.cfg")
	}
	if body, err := through(); err != nil || !strings.HasPrefix(body, "ok from") {
		t.Fatalf("/readyz through the VIP after the rejected config: %q %v", body, err)
	}
	// The VRRP password never shows in what the steps printed.
	for _, line := range output {
		if strings.Contains(line, password) {
			t.Errorf("output shows the VRRP password: %s", line)
		}
	}
}
