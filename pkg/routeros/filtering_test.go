package routeros

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	sim "github.com/homelabctl/homelab/pkg/sim/routeros"
	"github.com/homelabctl/homelab/pkg/step"
)

func noSleep(context.Context, time.Duration) error { return nil }

func startSimAt(t *testing.T, mgmt string) (*sim.Server, *Conn) {
	t.Helper()
	s := sim.New(sim.Options{Users: map[string]string{"homelab": "pw"}, Management: netip.MustParseAddr(mgmt)})
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(addr, "homelab", "pw", nil, time.Second)
	t.Cleanup(func() { c.Close(); s.Close() })
	return s, c
}

func run(t *testing.T, c *Conn, words ...string) {
	t.Helper()
	if _, err := c.Run(context.Background(), words...); err != nil {
		t.Fatalf("%v: %v", words, err)
	}
}

func TestFilteringEnabledLastAndVerified(t *testing.T) {
	tests := []struct {
		name  string
		mgmt  string
		setup [][]string
	}{
		{"untagged on the bridge", "192.168.88.1", nil},
		{"management VLAN tagged on the bridge", "10.0.99.1", [][]string{
			{"/interface/vlan/add", "=name=mgmt", "=vlan-id=99", "=interface=bridge"},
			{"/ip/address/add", "=address=10.0.99.1/24", "=interface=mgmt"},
			{"/interface/bridge/vlan/add", "=bridge=bridge", "=vlan-ids=10,90-99", "=tagged=bridge,ether2"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := startSimAt(t, tt.mgmt)
			for _, words := range tt.setup {
				run(t, c, words...)
			}
			w := FilteringWork{Conn: c, Bridge: "bridge", Management: netip.MustParseAddr(tt.mgmt), Sleep: noSleep}
			ctx := context.Background()
			ch, err := w.Observe(ctx)
			if err != nil || ch.Action != step.Update {
				t.Fatalf("observe: %s %v", ch.Action.Name(), err)
			}
			var out bytes.Buffer
			if err := w.Apply(ctx, ch, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "VLAN filtering is on for bridge (verified after") {
				t.Errorf("output %q", out.String())
			}
			if s.LockedOut() {
				t.Fatal("locked out")
			}
			if ch, err := w.Observe(ctx); err != nil || ch.Action != step.None {
				t.Errorf("second observe: %s %v", ch.Action.Name(), err)
			}
		})
	}
}

// Management on a VLAN the bridge does not tag: homelab refuses, says why,
// and never sends the set that would lock it out.
func TestFilteringRefusesToCutItsOwnPath(t *testing.T) {
	s, c := startSimAt(t, "10.0.99.1")
	run(t, c, "/interface/vlan/add", "=name=mgmt", "=vlan-id=99", "=interface=bridge")
	run(t, c, "/ip/address/add", "=address=10.0.99.1/24", "=interface=mgmt")
	run(t, c, "/interface/bridge/vlan/add", "=bridge=bridge", "=vlan-ids=10", "=tagged=bridge,ether2")
	w := FilteringWork{Conn: c, Bridge: "bridge", Management: netip.MustParseAddr("10.0.99.1"), Sleep: noSleep}
	err := w.Apply(context.Background(), step.Change{Action: step.Update}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "refusing to enable VLAN filtering on bridge") ||
		!strings.Contains(err.Error(), "reaches 10.0.99.1 on mgmt (VLAN 99), and no bridge VLAN entry tags bridge in VLAN 99") {
		t.Fatalf("err = %v", err)
	}
	for _, l := range s.Log() {
		if strings.Contains(l, "vlan-filtering=yes") {
			t.Fatalf("sent %q", l)
		}
	}
	if s.LockedOut() {
		t.Fatal("locked out")
	}
}

// A router that does not come back after the flip (here: the path homelab
// believed in is not the one the router uses): the error says what
// happened and how to recover from the console, after bounded redials.
func TestFilteringReportsALostRouter(t *testing.T) {
	s, c := startSimAt(t, "10.0.99.1")
	run(t, c, "/interface/vlan/add", "=name=mgmt", "=vlan-id=99", "=interface=bridge")
	run(t, c, "/ip/address/add", "=address=10.0.99.1/24", "=interface=mgmt")
	sleeps := 0
	w := FilteringWork{Conn: c, Bridge: "bridge", Management: netip.MustParseAddr("192.168.88.1"), Wait: 3 * time.Second,
		Sleep: func(context.Context, time.Duration) error { sleeps++; return nil }}
	err := w.Apply(context.Background(), step.Change{Action: step.Update}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no longer answers") || !strings.Contains(err.Error(), "/interface/bridge/set bridge vlan-filtering=no") {
		t.Fatalf("err = %v", err)
	}
	if !s.LockedOut() || sleeps == 0 || sleeps > 10 {
		t.Errorf("locked out %v after %d redials", s.LockedOut(), sleeps)
	}
}
