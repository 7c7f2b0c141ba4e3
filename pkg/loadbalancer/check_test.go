package loadbalancer

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tool returns the path of a validator on this machine. Without it the test
// is skipped, unless HOMELAB_REQUIRE_TOOLS=1 (CI installs Debian's haproxy
// and keepalived), where it fails.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	msg := name + " is not installed (apt-get install -y haproxy keepalived); set HOMELAB_REQUIRE_TOOLS=1 to make this a failure"
	if os.Getenv("HOMELAB_REQUIRE_TOOLS") == "1" {
		t.Fatal(name + " is not installed and HOMELAB_REQUIRE_TOOLS=1")
	}
	t.Skip(msg)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// localRunner runs the commands locally, with the validator found on this
// machine in place of the Debian path.
func localRunner(bin string) Runner {
	return func(ctx context.Context, argv []string) (Result, error) {
		return RunLocal(ctx, append([]string{bin}, argv[1:]...))
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func writeTemp(t *testing.T, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// forThisHost adapts a rendered keepalived.conf to the machine the test
// runs on, where keepalived --config-test checks two things of the host:
// the interface must exist (eth0 on the load balancers) and the script user
// must exist (the keepalived step creates it on the load balancers).
func forThisHost(t *testing.T, conf []byte) []byte {
	t.Helper()
	s := string(conf)
	if _, err := net.InterfaceByName(DefaultInterface); err != nil {
		iface := ""
		ifaces, _ := net.Interfaces()
		for _, i := range ifaces {
			if i.Flags&net.FlagLoopback == 0 {
				iface = i.Name
				break
			}
		}
		if iface == "" {
			if os.Getenv("HOMELAB_REQUIRE_TOOLS") == "1" {
				t.Fatal("no non-loopback interface for keepalived to check against")
			}
			t.Skip("no non-loopback interface for keepalived to check against")
		}
		s = strings.ReplaceAll(s, "interface "+DefaultInterface+"\n", "interface "+iface+"\n")
		s = strings.ReplaceAll(s, " dev "+DefaultInterface+"\n", " dev "+iface+"\n")
	}
	if _, err := user.Lookup(ScriptUser); err != nil {
		s = strings.ReplaceAll(s, "script_user "+ScriptUser+"\n", "script_user nobody\n")
	}
	return []byte(s)
}

// Every golden haproxy.cfg passes haproxy -c without a warning.
func TestHAProxyAcceptsRendered(t *testing.T) {
	run := localRunner(tool(t, "haproxy"))
	for _, c := range goldenCases(t) {
		if c.artifact.name != "haproxy.cfg" {
			continue
		}
		t.Run(c.name(), func(t *testing.T) {
			path := writeTemp(t, "haproxy.cfg", c.render(t))
			warnings, err := CheckHAProxy(ctx(t), run, path)
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) > 0 {
				t.Errorf("haproxy -c warns:\n%s", strings.Join(warnings, "\n"))
			}
		})
	}
}

// Every golden keepalived.conf passes keepalived --config-test, both as
// rendered (exit 143 on bookworm's 2.2.7, with no error line) and stripped
// of its scripts (exit 0), without a warning.
func TestKeepalivedAcceptsRendered(t *testing.T) {
	run := localRunner(tool(t, "keepalived"))
	for _, c := range goldenCases(t) {
		if c.artifact.name != "keepalived.conf" {
			continue
		}
		t.Run(c.name(), func(t *testing.T) {
			conf := forThisHost(t, c.render(t))
			path := writeTemp(t, "keepalived.conf", conf)
			stripped := writeTemp(t, "keepalived.stripped.conf", StripScripts(conf))
			warnings, err := CheckKeepalived(ctx(t), run, path, stripped)
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) > 0 {
				t.Errorf("keepalived --config-test warns:\n%s", strings.Join(warnings, "\n"))
			}
		})
	}
}

// The check can fail: broken configs are refused with HAProxy's words.
func TestHAProxyRejectsBroken(t *testing.T) {
	run := localRunner(tool(t, "haproxy"))
	inv := loadInventory(t, "small")
	lb, _ := inv.Guest("lb-1")
	good, err := RenderHAProxy(inv, lb)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown keyword", "    server master-1", "    servr master-1", "unknown keyword 'servr' in 'backend' section"},
		{"bad bind address", "bind 192.168.30.10:6443", "bind 192.168.30.300:6443", "invalid address: '192.168.30.300'"},
		{"bad server address", "server master-1 192.168.30.21:6443", "server master-1 192.168.30.321:6443", "could not resolve address '192.168.30.321'"},
		{"unknown backend", "default_backend kube-apiserver", "default_backend nope", "unable to find required default_backend: 'nope'"},
		{"bad http-check", "http-check expect status 200", "http-check expect sttus 200", "sttus"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			broken := strings.Replace(string(good), c.old, c.new, 1)
			if broken == string(good) {
				t.Fatalf("%q is not in the rendered config", c.old)
			}
			path := writeTemp(t, "haproxy.cfg", []byte(broken))
			_, err := CheckHAProxy(ctx(t), run, path)
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("haproxy -c accepted the broken config (err %v)", err)
			}
			if ce.Tool != "haproxy" || ce.Path != path || ce.ExitCode == 0 {
				t.Errorf("CheckError %+v", ce)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks HAProxy's words %q", err, c.want)
			}
		})
	}
}

// The check can fail: keepalived's words come back whatever the exit code,
// including the 143 of 2.2.7 with scripts, and a failing stripped copy
// fails the check.
func TestKeepalivedRejectsBroken(t *testing.T) {
	run := localRunner(tool(t, "keepalived"))
	inv := loadInventory(t, "small")
	lb, _ := inv.Guest("lb-1")
	rendered, err := RenderKeepalived(inv, lb, testAuthPass)
	if err != nil {
		t.Fatal(err)
	}
	good := string(forThisHost(t, rendered))
	cases := []struct {
		name, old, new, want string
	}{
		{"VRID out of range", "virtual_router_id 30", "virtual_router_id 300", "VRID '300' not valid"},
		{"missing script user", "script_user ", "script_user homelab_no_such_user #", "Error setting global script uid/gid"},
		{"missing interface", "interface ", "interface homelab-none0 #", "interface homelab-none0"},
		{"password too long", "auth_pass " + testAuthPass, "auth_pass " + testAuthPass + "xyz", "Truncating auth_pass to 8 characters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			broken := strings.Replace(good, c.old, c.new, 1)
			if broken == good {
				t.Fatalf("%q is not in the config", c.old)
			}
			path := writeTemp(t, "keepalived.conf", []byte(broken))
			stripped := writeTemp(t, "keepalived.stripped.conf", StripScripts([]byte(broken)))
			_, err := CheckKeepalived(ctx(t), run, path, stripped)
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("keepalived accepted the broken config (err %v)", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks keepalived's words %q", err, c.want)
			}
		})
	}
}

// keepalived 2.2.7's quirk, seen for real: a valid config with a script
// ends with 143 and no words; the stripped copy ends with 0.
func TestKeepalivedScriptQuirk(t *testing.T) {
	run := localRunner(tool(t, "keepalived"))
	inv := loadInventory(t, "small")
	lb, _ := inv.Guest("lb-1")
	rendered, err := RenderKeepalived(inv, lb, testAuthPass)
	if err != nil {
		t.Fatal(err)
	}
	conf := forThisHost(t, rendered)
	r, err := run(ctx(t), KeepalivedCheckCommand(writeTemp(t, "k.conf", conf)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("keepalived --config-test of the rendered config: exit %d, output %q", r.ExitCode, r.Output)
	if r.ExitCode != 0 && r.ExitCode != exitTerminated {
		t.Errorf("exit %d, want 0 (fixed keepalived) or 143 (2.2.7)", r.ExitCode)
	}
	r, err = run(ctx(t), KeepalivedCheckCommand(writeTemp(t, "s.conf", StripScripts(conf))))
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 0 {
		t.Errorf("stripped copy: exit %d (%s), want 0", r.ExitCode, r.Output)
	}
}

// RunLocal reports a missing binary as an error and a signal as 128+N.
func TestRunLocal(t *testing.T) {
	if _, err := RunLocal(ctx(t), []string{"/nonexistent/homelab-validator"}); err == nil {
		t.Error("a missing binary is not an error")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	r, err := RunLocal(ctx(t), []string{sh, "-c", "echo out; echo err >&2; exit 5"})
	if err != nil || r.ExitCode != 5 || string(r.Output) != "out\nerr\n" {
		t.Errorf("exit 5: %+v, %v", r, err)
	}
	r, err = RunLocal(ctx(t), []string{sh, "-c", "kill -TERM $$"})
	if err != nil || r.ExitCode != exitTerminated {
		t.Errorf("SIGTERM: %+v, %v", r, err)
	}
}
