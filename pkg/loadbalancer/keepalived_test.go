package loadbalancer

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/step"
)

func TestStripScripts(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"rendered shape": {
			in:   "global_defs {\n    script_user keepalived_script\n}\nvrrp_script chk {\n    script \"/usr/bin/curl -sf http://127.0.0.1:8405/healthz\"\n    interval 1\n}\n\nvrrp_instance VI_a {\n    priority 150\n    track_script {\n        chk\n    }\n    virtual_ipaddress {\n        10.0.0.10/24 dev eth0\n    }\n}\n",
			want: "global_defs {\n    script_user keepalived_script\n}\n\nvrrp_instance VI_a {\n    priority 150\n    virtual_ipaddress {\n        10.0.0.10/24 dev eth0\n    }\n}\n",
		},
		"brace on the next line, one-line blocks, comments and notify": {
			in:   "vrrp_script chk\n{\n  script \"/bin/true\" # {\n}\nvrrp_instance VI_a {\n  track_script { chk }\n  notify_master \"/bin/true\"\n  notify /x ! {\n  priority 1 ! }\n}\n",
			want: "vrrp_instance VI_a {\n  priority 1 ! }\n}\n",
		},
		"nothing to strip": {
			in:   "vrrp_instance VI_a {\n  priority 1\n}",
			want: "vrrp_instance VI_a {\n  priority 1\n}",
		},
		"a brace inside quotes does not count": {
			in:   "vrrp_script chk {\n  script \"/bin/echo }\"\n  interval 1\n}\nkeep me\n",
			want: "keep me\n",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := string(StripScripts([]byte(c.in))); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// Stripping a rendered config leaves no script, and everything else.
func TestStripRendered(t *testing.T) {
	inv := loadInventory(t, "rachuna-net")
	lb, _ := inv.Guest("lb-3")
	conf, err := RenderKeepalived(inv, lb, testAuthPass)
	if err != nil {
		t.Fatal(err)
	}
	s := string(StripScripts(conf))
	for _, gone := range []string{"vrrp_script", "track_script", "chk_haproxy", "curl"} {
		if strings.Contains(s, gone) {
			t.Errorf("stripped config still has %q", gone)
		}
	}
	if strings.Count(s, "{") != strings.Count(s, "}") || strings.Count(s, "vrrp_instance") != 2 {
		t.Errorf("stripped config is unbalanced or lost an instance:\n%s", s)
	}
}

func TestRedactAuthPass(t *testing.T) {
	in := "    authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }\n  auth_pass\tx # y\n"
	want := "    authentication {\n        auth_type PASS\n        auth_pass " + step.Redacted + "\n    }\n  auth_pass\t" + step.Redacted + "\n"
	if got := string(RedactAuthPass([]byte(in))); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	inv := loadInventory(t, "small")
	lb, _ := inv.Guest("lb-2")
	real, err := RenderKeepalived(inv, lb, testAuthPass)
	if err != nil {
		t.Fatal(err)
	}
	planned, err := RenderKeepalived(inv, lb, step.Redacted)
	if err != nil {
		t.Fatal(err)
	}
	if string(RedactAuthPass(real)) != string(planned) {
		t.Error("redacting the real config does not give the planned one")
	}
}

func TestCheckAuthPass(t *testing.T) {
	for _, ok := range []string{"a", "Vr9-pass", "12345678", "~$%&()*+", step.Redacted} {
		if err := CheckAuthPass(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "123456789", "ab cd", "ab#cd", "ab!cd", `ab"cd`, "ab'cd", `ab\cd`, "a{b", "a}b", "pässwd", "a\tb"} {
		err := CheckAuthPass(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestParseHAProxyCheck(t *testing.T) {
	const alert = "[NOTICE]   (14368) : haproxy version is 2.6.12-1+deb12u4\n[NOTICE]   (14368) : path to executable is /usr/sbin/haproxy\n[ALERT]    (14368) : config : parsing [h.cfg:47] : unknown keyword 'servr' in 'backend' section; did you mean 'server' maybe ?\n[ALERT]    (14368) : config : Error(s) found in configuration file : h.cfg\n"
	const warn = "Warnings were found.\nConfiguration file is valid\n[WARNING]  (14346) : config : log format ignored for frontend 'x' since it has no log address.\n"
	w, err := ParseHAProxyCheck("h.cfg", Result{ExitCode: 0, Output: []byte("Configuration file is valid\n")})
	if err != nil || len(w) != 0 {
		t.Errorf("valid: %v %v", w, err)
	}
	w, err = ParseHAProxyCheck("h.cfg", Result{ExitCode: 0, Output: []byte(warn)})
	if err != nil || len(w) != 1 || w[0] != "[WARNING] config : log format ignored for frontend 'x' since it has no log address." {
		t.Errorf("warning: %q %v", w, err)
	}
	_, err = ParseHAProxyCheck("h.cfg", Result{ExitCode: 1, Output: []byte(alert)})
	want := "haproxy rejected h.cfg (exit 1): [ALERT] config : parsing [h.cfg:47] : unknown keyword 'servr' in 'backend' section; did you mean 'server' maybe ?; [ALERT] config : Error(s) found in configuration file : h.cfg"
	if err == nil || err.Error() != want {
		t.Errorf("alert: %v\nwant %s", err, want)
	}
	_, err = ParseHAProxyCheck("h.cfg", Result{ExitCode: 2, Output: []byte("something else broke\n")})
	if err == nil || !strings.Contains(err.Error(), "something else broke") {
		t.Errorf("unrecognised output: %v", err)
	}
}

func TestParseKeepalivedCheck(t *testing.T) {
	cases := []struct {
		name    string
		r       Result
		wantErr string
		warns   int
	}{
		{"valid without scripts", Result{ExitCode: 0}, "", 0},
		{"2.2.7 with scripts, valid", Result{ExitCode: 143, Output: []byte("Terminated\n")}, "", 0},
		{"2.2.7 with scripts, invalid", Result{ExitCode: 143, Output: []byte("(k.conf: Line 16) number '300' outside range [1, 255]\n(k.conf: Line 16) (VI_a): VRID '300' not valid - must be between 1 & 255\n")}, "VRID '300' not valid", 0},
		{"error exit", Result{ExitCode: 5, Output: []byte("(Line 4) Error setting global script uid/gid\n")}, "keepalived rejected k.conf (exit 5): (Line 4) Error setting global script uid/gid", 0},
		{"valid with a remark", Result{ExitCode: 0, Output: []byte("(k.conf: Line 3) something to note\n")}, "", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := ParseKeepalivedCheck("k.conf", c.r)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("error %v, want %q", err, c.wantErr)
			}
			if len(w) != c.warns {
				t.Errorf("warnings %q, want %d", w, c.warns)
			}
		})
	}
}

// CheckKeepalived requires the stripped copy to exit 0, and reports a
// runner that cannot run.
func TestCheckKeepalivedFlow(t *testing.T) {
	fake := func(results map[string]Result) Runner {
		return func(_ context.Context, argv []string) (Result, error) {
			r, ok := results[argv[len(argv)-1]]
			if !ok {
				return Result{}, errors.New("connection lost")
			}
			return r, nil
		}
	}
	_, err := CheckKeepalived(context.Background(), fake(map[string]Result{"k": {ExitCode: 143}, "s": {ExitCode: 0}}), "k", "s")
	if err != nil {
		t.Errorf("143 then 0: %v", err)
	}
	_, err = CheckKeepalived(context.Background(), fake(map[string]Result{"k": {ExitCode: 143}, "s": {ExitCode: 143}}), "k", "s")
	var ce *CheckError
	if !errors.As(err, &ce) || ce.Path != "s" {
		t.Errorf("stripped copy ending in 143 passed: %v", err)
	}
	_, err = CheckKeepalived(context.Background(), fake(map[string]Result{"k": {ExitCode: 143}}), "k", "s")
	if err == nil || !strings.Contains(err.Error(), "connection lost") || errors.As(err, &ce) {
		t.Errorf("runner error: %v", err)
	}
	if got := strings.Join(KeepalivedCheckCommand("/tmp/k.conf"), " "); got != "/usr/sbin/keepalived --config-test -f /tmp/k.conf" {
		t.Errorf("KeepalivedCheckCommand = %s", got)
	}
	if got := strings.Join(HAProxyCheckCommand("/tmp/h.cfg"), " "); got != "/usr/sbin/haproxy -c -f /tmp/h.cfg" {
		t.Errorf("HAProxyCheckCommand = %s", got)
	}
}

func FuzzStripScripts(f *testing.F) {
	f.Add([]byte("vrrp_script chk {\n script \"/bin/true\"\n}\nvrrp_instance a {\n track_script {\n  chk\n }\n}\n"))
	f.Add([]byte("vrrp_script chk\n{\n}\nnotify_master x\n! c\n# d\n\"{\"\n"))
	f.Fuzz(func(t *testing.T, conf []byte) {
		out := string(StripScripts(conf))
		in := string(conf)
		rest := in
		for _, line := range strings.SplitAfter(out, "\n") {
			i := strings.Index(rest, line)
			if i < 0 {
				t.Fatalf("line %q is not from the input, in order", line)
			}
			rest = rest[i+len(line):]
			code, _, _ := scanLine(line)
			if fields := strings.Fields(code); len(fields) > 0 {
				if fields[0] == "vrrp_script" || fields[0] == "track_script" || strings.HasPrefix(fields[0], "notify") {
					t.Fatalf("kept %q", line)
				}
			}
		}
	})
}
