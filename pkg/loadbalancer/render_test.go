package loadbalancer

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// testAuthPass is the VRRP password the golden keepalived.conf files carry.
const testAuthPass = "Vr9-pass"

// inventories are the inventories the golden cases render: the two
// examples, and edge cases under testdata/inventories.
var inventories = map[string]string{
	"rachuna-net": "../../inventories/rachuna-net.yaml",
	"small":       "../../inventories/small.yaml",
	"one-lb":      "testdata/inventories/one-lb.yaml",
	"no-stats":    "testdata/inventories/no-stats.yaml",
	"three-vips":  "testdata/inventories/three-vips.yaml",
}

func loadInventory(t testing.TB, name string) *inventory.Inventory {
	t.Helper()
	path, ok := inventories[name]
	if !ok {
		t.Fatalf("no inventory %q", name)
	}
	inv, _, err := inventory.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return inv
}

// artifact is one kind of rendered file.
type artifact struct {
	name string
	// perLB is true when the file differs per load balancer.
	perLB  bool
	render func(inv *inventory.Inventory, lb *inventory.Guest) ([]byte, error)
}

var artifacts = []artifact{
	{"haproxy.cfg", true, RenderHAProxy},
	{"keepalived.conf", true, func(inv *inventory.Inventory, lb *inventory.Guest) ([]byte, error) {
		return RenderKeepalived(inv, lb, testAuthPass)
	}},
	{"sysctl.conf", false, func(inv *inventory.Inventory, _ *inventory.Guest) ([]byte, error) { return RenderSysctl(inv) }},
	{"keepalived-dropin.conf", false, func(inv *inventory.Inventory, _ *inventory.Guest) ([]byte, error) {
		return RenderKeepalivedDropIn(inv)
	}},
}

// goldenCase is one rendered file of one inventory (and load balancer).
type goldenCase struct {
	inventory string
	lb        string
	artifact  artifact
}

func (c goldenCase) name() string {
	if c.artifact.perLB {
		return c.inventory + "/" + c.lb + "." + c.artifact.name
	}
	return c.inventory + "/" + c.artifact.name
}

func (c goldenCase) golden() string {
	return filepath.Join("testdata", "golden", filepath.FromSlash(c.name()))
}

func (c goldenCase) render(t *testing.T) []byte {
	t.Helper()
	inv := loadInventory(t, c.inventory)
	var lb *inventory.Guest
	if c.lb != "" {
		g, ok := inv.Guest(c.lb)
		if !ok {
			t.Fatalf("%s has no guest %s", c.inventory, c.lb)
		}
		lb = g
	}
	out, err := c.artifact.render(inv, lb)
	if err != nil {
		t.Fatalf("render %s: %v", c.name(), err)
	}
	return out
}

// goldenCases is the table: every inventory × every load balancer × every
// artifact (files that are the same on every load balancer once).
func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	var cases []goldenCase
	for _, name := range []string{"rachuna-net", "small", "one-lb", "no-stats", "three-vips"} {
		inv := loadInventory(t, name)
		for _, a := range artifacts {
			if !a.perLB {
				cases = append(cases, goldenCase{inventory: name, lb: inv.LoadBalancers()[0].Name, artifact: a})
				continue
			}
			for _, g := range inv.LoadBalancers() {
				cases = append(cases, goldenCase{inventory: name, lb: g.Name, artifact: a})
			}
		}
	}
	return cases
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name(), func(t *testing.T) {
			got := c.render(t)
			if *update {
				if err := os.MkdirAll(filepath.Dir(c.golden()), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(c.golden(), got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(c.golden())
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/loadbalancer/ -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run with -update and review the diff):\n%s", c.name(), c.golden(), lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff lists the lines that differ, for a readable failure.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl + "\n")
		}
	}
	return b.String()
}

// Every rendered file starts with the managed mark and ends with a newline.
func TestManagedHeader(t *testing.T) {
	for _, c := range goldenCases(t) {
		out := string(c.render(t))
		if !strings.HasPrefix(out, ManagedMark+" (inventory "+c.inventory+")") {
			t.Errorf("%s does not start with the managed mark: %q", c.name(), strings.SplitN(out, "\n", 2)[0])
		}
		if !strings.HasSuffix(out, "\n") || strings.HasSuffix(out, "\n\n") {
			t.Errorf("%s does not end with exactly one newline", c.name())
		}
	}
}

// The reference lab's haproxy.cfg checks the apiserver's /readyz over TLS on
// every control plane, never with the TLS-hello-only check, binds every
// frontend on its VIP and keeps the stats page on the LB's own IP.
func TestHAProxyReferenceLab(t *testing.T) {
	inv := loadInventory(t, "rachuna-net")
	lb, _ := inv.Guest("lb-2")
	out, err := RenderHAProxy(inv, lb)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(out)
	for _, want := range []string{
		"stats socket /run/haproxy/admin.sock mode 660 level admin",
		"bind 127.0.0.1:8405\n    option dontlog-normal\n    monitor-uri /healthz",
		"bind 10.10.10.32:8404",
		"frontend kube-apiserver\n    mode tcp\n    bind 10.10.10.10:6443",
		"http-check send meth GET uri /readyz\n    http-check expect status 200",
		"server master-1 10.10.10.41:6443 check check-ssl verify none",
		"server master-3 10.10.10.43:6443 check check-ssl verify none",
		"bind 10.10.10.11:80",
		"server worker-6 10.10.10.56:30080 check\n",
		"server worker-1 10.10.10.51:30443 check\n",
		"http-check send meth GET uri /v1/sys/health\n    http-check expect status 200",
		"server ct01007 10.10.10.23:8200 check check-ssl verify none",
		"server ct01005 10.10.10.21:8501 check check-ssl verify none",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("haproxy.cfg lacks %q", want)
		}
	}
	for _, bad := range []string{"ssl-hello-chk", "/healthz\n    http-check", "bind *:"} {
		if strings.Contains(cfg, bad) {
			t.Errorf("haproxy.cfg contains %q", bad)
		}
	}
}

// keepalived.conf: one instance per VIP, the other LBs as unicast peers,
// this LB's priority; a single LB gets no unicast block (it would stay in
// FAULT with unicast_fault_no_peer and no peers).
func TestKeepalivedPeers(t *testing.T) {
	inv := loadInventory(t, "three-vips")
	lb, _ := inv.Guest("lb-2")
	out, err := RenderKeepalived(inv, lb, testAuthPass)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(out)
	if n := strings.Count(cfg, "vrrp_instance "); n != 3 {
		t.Errorf("%d vrrp_instance blocks, want 3", n)
	}
	for _, want := range []string{
		"router_id lb-2", "script_user keepalived_script", "enable_script_security",
		"priority 100", "unicast_src_ip 10.0.10.12", "unicast_peer {\n        10.0.10.11\n        10.0.10.13\n    }",
		"virtual_router_id 255", "10.0.10.30/24 dev eth0", "auth_pass " + testAuthPass,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("keepalived.conf lacks %q", want)
		}
	}
	one := loadInventory(t, "one-lb")
	lb1, _ := one.Guest("lb-1")
	out, err = RenderKeepalived(one, lb1, testAuthPass)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "unicast") {
		t.Errorf("a single load balancer got a unicast block:\n%s", out)
	}
}

// Names and values that would break the config's syntax are refused with
// the object's name, not rendered.
func TestRenderRefuses(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(inv *inventory.Inventory)
		pass   string
		want   string
	}{
		{"frontend name with a space", func(inv *inventory.Inventory) { inv.LoadBalancer.Frontends[0].Name = "kube api" }, testAuthPass, `frontend name "kube api"`},
		{"homelab's own name", func(inv *inventory.Inventory) { inv.LoadBalancer.Frontends[0].Name = "homelab-health" }, testAuthPass, "homelab's own"},
		{"check path with a comment", func(inv *inventory.Inventory) { inv.LoadBalancer.Frontends[0].Check.Path = "/readyz#x" }, testAuthPass, "check path"},
		{"unknown VIP", func(inv *inventory.Inventory) { inv.LoadBalancer.Frontends[0].VIP = "nope" }, testAuthPass, `unknown VIP "nope"`},
		{"password too long", func(*inventory.Inventory) {}, "123456789", "it must be 1 to 8"},
		{"password with a comment char", func(*inventory.Inventory) {}, "ab!cd", "misread"},
		{"empty password", func(*inventory.Inventory) {}, "", "empty"},
		{"VRID out of range", func(inv *inventory.Inventory) { inv.LoadBalancer.VIPs[0].RouterID = 300 }, testAuthPass, "outside 1..255"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv := loadInventory(t, "small")
			c.mutate(inv)
			lb, _ := inv.Guest("lb-1")
			_, herr := RenderHAProxy(inv, lb)
			_, kerr := RenderKeepalived(inv, lb, c.pass)
			var msgs []string
			for _, err := range []error{herr, kerr} {
				if err != nil {
					msgs = append(msgs, err.Error())
					if !strings.Contains(err.Error(), "for lb-1") {
						t.Errorf("error does not name the load balancer: %v", err)
					}
				}
			}
			all := strings.Join(msgs, "\n")
			if !strings.Contains(all, c.want) {
				t.Errorf("errors %q do not contain %q", all, c.want)
			}
			if c.pass != "" && c.pass != testAuthPass && strings.Contains(all, c.pass) {
				t.Errorf("an error shows the password: %s", all)
			}
		})
	}
}
