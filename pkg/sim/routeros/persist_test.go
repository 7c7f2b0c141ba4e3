package routeros

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	ros "github.com/go-routeros/routeros/v3"
)

// A saved and loaded router answers go-routeros as the one it was saved
// from: every menu's rows with their .id, comments, dynamic rows (console
// leases, the bridge's PVID rows once it filters VLANs), and the next .id
// an add gets.
func TestSaveLoadRoundTrip(t *testing.T) {
	s, addr := start(t)
	c := dial(t, addr)
	for _, cmd := range [][]string{
		{"/interface/vlan/add", "=name=vlan10", "=vlan-id=10", "=interface=bridge", "=comment=homelab:lab:router/vlan/10"},
		{"/ip/address/add", "=address=10.0.10.1/24", "=interface=vlan10", "=comment=homelab:lab:router/address/10"},
		{"/ip/pool/add", "=name=pool10", "=ranges=10.0.10.100-10.0.10.199"},
		{"/ip/dns/static/add", "=name=k8s-api.lab", "=address=10.0.10.5", "=comment=homelab:lab:router/dns/k8s-api.lab"},
		{"/interface/bridge/port/add", "=bridge=bridge", "=interface=ether2", "=pvid=10"},
	} {
		if _, err := c.Run(cmd...); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	s.Console(func(r *Router) {
		r.Add("/ip/dhcp-server/lease", map[string]string{"address": "10.0.10.150", "mac-address": "BC:24:11:00:00:01", "dynamic": "true"})
	})
	// Filtering on: the session drops, the dynamic PVID rows appear.
	c.Run("/interface/bridge/set", "=numbers="+bridgeID(t, c), "=vlan-filtering=yes")

	var saved bytes.Buffer
	if err := s.Save(&saved); err != nil {
		t.Fatal(err)
	}
	s2 := New(Options{Users: map[string]string{"homelab": "pw"}})
	if err := s2.Load(bytes.NewReader(saved.Bytes())); err != nil {
		t.Fatal(err)
	}
	addr2, err := s2.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	before, after := dial(t, addr), dial(t, addr2)
	for _, path := range []string{"/interface/ethernet", "/interface/bridge", "/interface/bridge/port", "/interface/bridge/vlan",
		"/interface/vlan", "/interface", "/ip/address", "/ip/pool", "/ip/dhcp-server", "/ip/dhcp-server/network",
		"/ip/dhcp-server/lease", "/ip/dns/static"} {
		a, b := printed(t, before, path), printed(t, after, path)
		if a != b {
			t.Errorf("%s/print after Load:\n%s\nwas:\n%s", path, b, a)
		}
	}
	var next []string
	for _, a := range []string{addr, addr2} {
		rep, err := dial(t, a).Run("/ip/pool/add", "=name=pool20", "=ranges=10.0.20.100-10.0.20.199")
		if err != nil {
			t.Fatal(err)
		}
		next = append(next, rep.Done.Map["ret"])
	}
	if next[0] == "" || next[0] != next[1] {
		t.Errorf("the next add got %s on the saved router, %s on the loaded one", next[0], next[1])
	}
	for _, path := range []string{"/interface/list", "/interface/list/member", "/ip/firewall/filter", "/ip/firewall/nat", "/ip/dns", "/system/identity"} {
		if a, b := printed(t, before, path), printed(t, after, path); a != b {
			t.Errorf("%s/print after Load:\n%s\nwas:\n%s", path, b, a)
		}
	}
}

// Load refuses what Save did not write.
func TestLoadRefusesOtherFormats(t *testing.T) {
	s := New(Options{})
	for _, in := range []string{"", "{", `{"format_version": 2}`, `{"format_version": 1, "next_id": 2, "menus": {"/no/such": []}}`} {
		if err := s.Load(strings.NewReader(in)); err == nil {
			t.Errorf("Load(%q) accepted", in)
		}
	}
}

// printed is a menu's print, one row a line with its properties sorted.
func printed(t *testing.T, c *ros.Client, path string) string {
	t.Helper()
	rep, err := c.Run(path + "/print")
	if err != nil {
		t.Fatalf("%s/print: %v", path, err)
	}
	var b strings.Builder
	for _, re := range rep.Re {
		for _, k := range slices.Sorted(maps.Keys(re.Map)) {
			fmt.Fprintf(&b, "%s=%s ", k, re.Map[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}
