package host_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/loadbalancer"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/sim/host"
)

// put writes content to path on h as root.
func put(t *testing.T, h *host.Host, path string, content []byte) {
	t.Helper()
	if st := h.Run(context.Background(), "root", "mkdir -p \"$(dirname "+remote.Quote(path)+")\" && cat > "+remote.Quote(path),
		strings.NewReader(string(content)), nil, nil); st != 0 {
		t.Fatalf("write %s: exit %d", path, st)
	}
}

// runner runs a validator on h as the loadbalancer phase does over SSH:
// the quoted argv, its stderr joined to stdout.
func runner(h *host.Host) loadbalancer.Runner {
	return func(ctx context.Context, argv []string) (loadbalancer.Result, error) {
		q := make([]string, len(argv))
		for i, a := range argv {
			q[i] = remote.Quote(a)
		}
		var out strings.Builder
		status := h.Run(ctx, "root", strings.Join(q, " ")+" 2>&1", nil, &out, &out)
		return loadbalancer.Result{ExitCode: status, Output: []byte(out.String())}, nil
	}
}

func loadInventory(t *testing.T, name string) *inventory.Inventory {
	t.Helper()
	inv, _, err := inventory.Load("../../../inventories/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// haproxy -c judges rendered configs as the real one does, in words
// pkg/loadbalancer's parser reads: the simulator's structural check, and
// the real haproxy where this machine has one.
func TestHAProxyCheck(t *testing.T) {
	inv := loadInventory(t, "rachuna-net")
	lb, _ := inv.Guest("lb-1")
	good, err := loadbalancer.RenderHAProxy(inv, lb)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{"structural": ""}
	if _, err := os.Stat(loadbalancer.HAProxyBinary); err == nil {
		checks["real haproxy"] = loadbalancer.HAProxyBinary
	}
	for name, bin := range checks {
		t.Run(name, func(t *testing.T) {
			_, h := newHost(t, host.LabOptions{HAProxyBinary: bin}, "haproxy")
			ctx := context.Background()
			put(t, h, "/tmp/good.cfg", good)
			if warnings, err := loadbalancer.CheckHAProxy(ctx, runner(h), "/tmp/good.cfg"); err != nil || len(warnings) > 0 {
				t.Fatalf("a rendered config: %v %v", warnings, err)
			}
			broken := map[string]string{
				"\nbackend broken\n    servr nope 1.2.3.4:1\n":           "unknown keyword 'servr' in 'backend' section",
				"\nfrontend x\n    bind 10.0.0.1:99999\n":                "'bind' : invalid port '99999'",
				"\nfrontend y\n    bind :81\n    default_backend nope\n": "unable to find required default_backend: 'nope'",
				"\nbackend z\n    server a 10.0.0.5:80 chek\n":           "'server z/a' : unknown keyword 'chek'",
			}
			for tail, want := range broken {
				put(t, h, "/tmp/bad.cfg", append(append([]byte{}, good...), tail...))
				_, err := loadbalancer.CheckHAProxy(ctx, runner(h), "/tmp/bad.cfg")
				var ce *loadbalancer.CheckError
				if !errors.As(err, &ce) || ce.ExitCode != 1 || !strings.Contains(err.Error(), want) {
					t.Errorf("%q: %v", tail, err)
				}
			}
			if _, err := loadbalancer.CheckHAProxy(ctx, runner(h), "/tmp/missing.cfg"); err == nil ||
				!strings.Contains(err.Error(), "Cannot open configuration file/directory /tmp/missing.cfg : No such file or directory") {
				t.Errorf("a missing config: %v", err)
			}
			// haproxy -c looks the config's user up on the host.
			for _, c := range []cmdCase{
				{cmd: "sed -i '/^haproxy:/d' /etc/passwd && haproxy -c -f /tmp/good.cfg 2>&1", status: 1, stdout: "~cannot find user id for 'haproxy' (0:Success)"},
				{cmd: "haproxy -f /tmp/good.cfg", status: 1, stderr: "~use systemctl"},
			} {
				c.check(t, h)
			}
		})
	}
}

// keepalived --config-test: 143 without a word for a config with scripts
// (as 2.2.7 does), 0 for the copy without them, exit 5 and keepalived's
// words for broken ones; the script user must exist.
func TestKeepalivedCheck(t *testing.T) {
	inv := loadInventory(t, "rachuna-net")
	lb, _ := inv.Guest("lb-1")
	conf, err := loadbalancer.RenderKeepalived(inv, lb, "s1m-pass")
	if err != nil {
		t.Fatal(err)
	}
	_, h := newHost(t, host.LabOptions{}, "keepalived")
	ctx := context.Background()
	check := func(content []byte) ([]string, error) {
		put(t, h, "/tmp/k.conf", content)
		put(t, h, "/tmp/k.conf.noscripts", loadbalancer.StripScripts(content))
		return loadbalancer.CheckKeepalived(ctx, runner(h), "/tmp/k.conf", "/tmp/k.conf.noscripts")
	}
	if _, err := check(conf); err == nil || !strings.Contains(err.Error(), "Error setting global script uid/gid") {
		t.Fatalf("without the script user: %v", err)
	}
	if st, _, _ := run(h, "root", "useradd -r -M -s /usr/sbin/nologin "+loadbalancer.ScriptUser); st != 0 {
		t.Fatal("useradd")
	}
	if warnings, err := check(conf); err != nil || len(warnings) > 0 {
		t.Fatalf("a rendered config: %v %v", warnings, err)
	}
	for _, c := range []cmdCase{
		{cmd: "keepalived --config-test -f /tmp/k.conf", status: 143},
		{cmd: "keepalived -t -f /tmp/k.conf.noscripts", status: 0},
	} {
		c.check(t, h)
	}
	broken := map[string]string{
		"virtual_router_id 51": "virtual_router_id 300",
		"priority 150":         "priorty 150",
		"interface eth0":       "interface eth9",
		"    }\n}":             "    }\n",
	}
	wants := map[string]string{
		"virtual_router_id 51": "(VI_k8s-api): VRID '300' not valid - must be between 1 & 255",
		"priority 150":         "Unknown keyword 'priorty'",
		"interface eth0":       "WARNING - interface eth9 for vrrp_instance VI_k8s-api doesn't exist",
		"    }\n}":             "missing '}'s or extra '{'s",
	}
	for from, to := range broken {
		_, err := check([]byte(strings.Replace(string(conf), from, to, 1)))
		if err == nil || !strings.Contains(err.Error(), wants[from]) {
			t.Errorf("%q -> %q: %v", from, to, err)
		}
	}
	put(t, h, "/tmp/k.conf.noscripts", loadbalancer.StripScripts(conf))
	(cmdCase{cmd: "keepalived --config-test -f /tmp/k.conf.noscripts 2>&1", stdout: ""}).check(t, h)
	(cmdCase{cmd: "sed -i 's/priority 150/priorty 150/' /tmp/k.conf.noscripts; keepalived --config-test -f /tmp/k.conf.noscripts 2>&1",
		status: 5, stdout: "~(/tmp/k.conf.noscripts: Line "}).check(t, h)
}
