package routeros

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	ros "github.com/go-routeros/routeros/v3"
)

// A router reset to its default configuration has the interface lists LAN
// (the bridge) and WAN (ether1), the defconf input chain ending in "drop
// all not coming from LAN", the masquerade to WAN, and DNS answering
// remote requests; reset with no-defaults it has none of them.
func TestDefaultConfiguration(t *testing.T) {
	_, addr := start(t)
	c := dial(t, addr)
	rep, err := c.Run("/interface/list/member/print", "=.proplist=list,interface,comment")
	if err != nil || len(rep.Re) != 2 || rep.Re[0].Map["list"] != "LAN" || rep.Re[0].Map["interface"] != "bridge" ||
		rep.Re[1].Map["list"] != "WAN" || rep.Re[1].Map["interface"] != "ether1" || rep.Re[0].Map["comment"] != "defconf" {
		t.Fatalf("members: %v %v", rep, err)
	}
	rep, err = c.Run("/interface/list/print", "=.proplist=name,builtin", "?builtin=false")
	if err != nil || len(rep.Re) != 2 {
		t.Fatalf("lists: %v %v", rep, err)
	}
	rep, err = c.Run("/ip/firewall/filter/print", "?chain=input")
	if err != nil || len(rep.Re) != 5 {
		t.Fatalf("input chain: %v %v", rep, err)
	}
	if last := rep.Re[4].Map; last["action"] != "drop" || last["in-interface-list"] != "!LAN" || last["comment"] != "defconf: drop all not coming from LAN" {
		t.Errorf("the input chain ends with %v", last)
	}
	rep, err = c.Run("/ip/firewall/nat/print")
	if err != nil || len(rep.Re) != 1 || rep.Re[0].Map["out-interface-list"] != "WAN" || rep.Re[0].Map["action"] != "masquerade" {
		t.Errorf("nat: %v %v", rep, err)
	}
	rep, err = c.Run("/ip/dns/print", "=.proplist=allow-remote-requests")
	if err != nil || len(rep.Re) != 1 || rep.Re[0].Map["allow-remote-requests"] != "true" || rep.Re[0].Map[".id"] != "" {
		t.Errorf("dns: %v %v", rep, err)
	}

	empty := New(Options{Users: map[string]string{"homelab": "pw"}, NoDefaults: true})
	addr2, err := empty.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { empty.Close() })
	c2 := dial(t, addr2)
	for _, path := range []string{"/interface/list/member", "/ip/firewall/filter", "/ip/firewall/nat"} {
		if rep, err := c2.Run(path + "/print"); err != nil || len(rep.Re) != 0 {
			t.Errorf("no-defaults %s: %v %v", path, rep, err)
		}
	}
	if rep, err := c2.Run("/ip/dns/print"); err != nil || rep.Re[0].Map["allow-remote-requests"] != "false" {
		t.Errorf("no-defaults dns: %v %v", rep, err)
	}
}

// A host's DNS query to the router is answered only when it comes in on an
// interface of the LAN list (the defconf input chain drops the rest) and
// /ip/dns allows remote requests; the router's own resolver answers
// regardless.
func TestDNSQueriesFromHosts(t *testing.T) {
	guest, lan := netip.MustParseAddr("10.0.30.11"), netip.MustParseAddr("192.168.88.50")
	run := func(t *testing.T, c *ros.Client, words ...string) {
		t.Helper()
		if _, err := c.Run(words...); err != nil {
			t.Fatalf("%v: %v", words, err)
		}
	}
	tests := []struct {
		name       string
		noDefaults bool
		setup      [][]string
		from       netip.Addr
		answers    bool
		why        string
	}{
		{name: "defconf bridge", from: lan, answers: true},
		{name: "new bridge not in LAN", from: guest, why: "drop all not coming from LAN",
			setup: [][]string{{"/interface/bridge/add", "=name=br-lab"}, {"/ip/address/add", "=address=10.0.30.1/24", "=interface=br-lab"}}},
		{name: "new bridge in LAN", from: guest, answers: true,
			setup: [][]string{{"/interface/bridge/add", "=name=br-lab"}, {"/ip/address/add", "=address=10.0.30.1/24", "=interface=br-lab"},
				{"/interface/list/member/add", "=list=LAN", "=interface=br-lab"}}},
		{name: "member disabled", from: guest, why: "drop all not coming from LAN",
			setup: [][]string{{"/interface/bridge/add", "=name=br-lab"}, {"/ip/address/add", "=address=10.0.30.1/24", "=interface=br-lab"},
				{"/interface/list/member/add", "=list=LAN", "=interface=br-lab", "=disabled=yes"}}},
		{name: "VLAN interface in LAN", from: guest, answers: true,
			setup: [][]string{{"/interface/vlan/add", "=name=vlan30", "=vlan-id=30", "=interface=bridge"},
				{"/ip/address/add", "=address=10.0.30.1/24", "=interface=vlan30"}, {"/interface/list/member/add", "=list=LAN", "=interface=vlan30"}}},
		{name: "a list that includes LAN", from: guest, answers: true,
			setup: [][]string{{"/interface/bridge/add", "=name=br-lab"}, {"/ip/address/add", "=address=10.0.30.1/24", "=interface=br-lab"},
				{"/interface/list/add", "=name=LAB"}, {"/interface/list/member/add", "=list=LAB", "=interface=br-lab"},
				{"/interface/list/set", "=numbers=LAN", "=include=LAB"}}},
		// add appends: the rule comes after the drop and never matches.
		{name: "an accept rule added after the drop", from: guest, why: "drop all not coming from LAN",
			setup: [][]string{{"/interface/bridge/add", "=name=br-lab"}, {"/ip/address/add", "=address=10.0.30.1/24", "=interface=br-lab"},
				{"/ip/firewall/filter/add", "=chain=input", "=action=accept", "=protocol=udp", "=dst-port=53", "=in-interface=br-lab"}}},
		{name: "remote requests off", from: lan, why: "allow-remote-requests is no",
			setup: [][]string{{"/ip/dns/set", "=allow-remote-requests=no"}}},
		{name: "no network holds the host", from: guest, why: "no address of the router"},
		{name: "no-defaults router", noDefaults: true, from: lan, why: "allow-remote-requests is no"},
		{name: "no-defaults router allowing remote requests", noDefaults: true, from: lan, answers: true,
			setup: [][]string{{"/ip/dns/set", "=allow-remote-requests=yes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Users: map[string]string{"homelab": "pw"}, NoDefaults: tt.noDefaults})
			addr, err := s.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			c := dial(t, addr)
			for _, cmd := range tt.setup {
				run(t, c, cmd...)
			}
			run(t, c, "/ip/dns/static/add", "=name=vault.lab", "=address=10.0.30.40")
			got, ok := s.ResolveFrom(tt.from, "vault.lab")
			if ok != tt.answers || (ok && got.String() != "10.0.30.40") {
				t.Errorf("ResolveFrom(%s) = %v %v, want answered %v (%s)", tt.from, got, ok, tt.answers, s.DNSDrop(tt.from))
			}
			if why := s.DNSDrop(tt.from); !strings.Contains(why, tt.why) || (tt.answers != (why == "")) {
				t.Errorf("DNSDrop = %q, want %q", why, tt.why)
			}
			if _, ok := s.Resolve("vault.lab"); !ok {
				t.Error("the router's own resolver does not answer")
			}
		})
	}
}

// /system/resource and /system/identity answer as on every router, with
// the fields tools read first; /system/resource is read-only.
func TestSystemMenus(t *testing.T) {
	_, addr := start(t)
	c := dial(t, addr)
	rep, err := c.Run("/system/resource/print")
	if err != nil || len(rep.Re) != 1 {
		t.Fatalf("%v %v", rep, err)
	}
	res := rep.Re[0].Map
	for _, k := range []string{"uptime", "version", "cpu-count", "free-memory", "total-memory", "board-name", "architecture-name"} {
		if res[k] == "" {
			t.Errorf("/system/resource has no %s: %v", k, res)
		}
	}
	if !strings.HasPrefix(res["version"], "7.") {
		t.Errorf("version %q", res["version"])
	}
	rep, err = c.Run("/system/resource/print", "=.proplist=version")
	if err != nil || len(rep.Re[0].Map) != 1 {
		t.Errorf(".proplist: %v %v", rep, err)
	}
	if _, err := c.Run("/system/resource/set", "=version=8"); deviceMessage(t, err) != "no such command" {
		t.Errorf("resource set: %v", err)
	}
	if rep, err := c.Run("/system/identity/print"); err != nil || rep.Re[0].Map["name"] != "MikroTik" {
		t.Errorf("identity: %v %v", rep, err)
	}
	if _, err := c.Run("/system/identity/set", "=name=gw"); err != nil {
		t.Fatal(err)
	}
	if rep, _ := c.Run("/system/identity/print"); rep.Re[0].Map["name"] != "gw" {
		t.Errorf("identity after set: %v", rep)
	}
	if _, err := c.Run("/ip/dns/set", "=colour=red"); deviceMessage(t, err) != "unknown parameter colour" {
		t.Errorf("dns set: %v", err)
	}
	if formatUptime(15*24*time.Hour+3*time.Hour+5*time.Second) != "2w1d3h5s" || formatUptime(0) != "0s" {
		t.Errorf("uptime %q", formatUptime(15*24*time.Hour+3*time.Hour+5*time.Second))
	}
}

// /quit is answered with !fatal and a bare reason word, then the router
// closes the session: go-routeros reports the word it cannot parse, and
// the connection is gone.
func TestQuit(t *testing.T) {
	_, addr := start(t)
	c := dial(t, addr)
	_, err := c.Run("/quit")
	var de *ros.DeviceError
	if err == nil || errors.As(err, &de) || !strings.Contains(err.Error(), "session terminated on request") {
		t.Fatalf("/quit: %v", err)
	}
	if _, err := c.Run("/ip/address/print"); err == nil {
		t.Error("the session survived /quit")
	}
	// On the wire: !fatal, the reason, end of sentence, then EOF.
	conn := rawLogin(t, addr)
	conn.Write(encodeSentence("/quit"))
	r := newTestReader(conn)
	if w := r.sentence(t); len(w) != 2 || w[0] != "!fatal" || w[1] != "session terminated on request" {
		t.Errorf("sentence %q", w)
	}
	if _, err := readSentence(r.r); !errors.Is(err, io.EOF) {
		t.Errorf("after !fatal: %v", err)
	}
}

// rawLogin opens a connection and logs in without a client library.
func rawLogin(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.Write(encodeSentence("/login", "=name=homelab", "=password=pw"))
	if w := newTestReader(conn).sentence(t); w[0] != "!done" {
		t.Fatalf("login: %q", w)
	}
	return conn
}
