package routeros

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	sim "github.com/homelabctl/homelab/pkg/sim/routeros"
	"github.com/homelabctl/homelab/pkg/step"
)

func startSim(t *testing.T) (*sim.Server, *Conn) {
	t.Helper()
	s := sim.New(sim.Options{Users: map[string]string{"homelab": "pw"}})
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(addr, "homelab", "pw", nil, 2*time.Second)
	t.Cleanup(func() { c.Close(); s.Close() })
	return s, c
}

func dnsEntry(address string) Entry {
	return Entry{
		Menu:     "/ip/dns/static",
		Comment:  "homelab:lab:router/dns/vault.lab",
		Props:    []Prop{{"name", "vault.lab"}, {"address", address}},
		Identity: []string{"name"},
	}
}

// converge observes and applies until nothing changes, as two runs would.
func apply(t *testing.T, w EntryWork) step.Change {
	t.Helper()
	ctx := context.Background()
	ch, err := w.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Action == step.Create || ch.Action == step.Update {
		if err := w.Apply(ctx, ch, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	return ch
}

func writes(s *sim.Server) []string {
	var out []string
	for _, l := range s.Log() {
		if strings.Contains(l, "/add") || strings.Contains(l, "/set") || strings.Contains(l, "/remove") {
			out = append(out, l)
		}
	}
	return out
}

func TestEntryCreateThenConverged(t *testing.T) {
	s, c := startSim(t)
	w := EntryWork{Conn: c, Entry: dnsEntry("10.0.0.11")}
	if ch := apply(t, w); ch.Action != step.Create {
		t.Fatalf("first run: %s", ch.Action.Name())
	}
	before := len(writes(s))
	if ch := apply(t, w); ch.Action != step.None {
		t.Fatalf("second run: %s %+v", ch.Action.Name(), ch.Fields)
	}
	if len(writes(s)) != before {
		t.Errorf("a converged run wrote: %v", writes(s)[before:])
	}
}

// Drift in a managed field is an update that sets only that field.
func TestEntryDriftIsUpdatedFieldByField(t *testing.T) {
	s, c := startSim(t)
	apply(t, EntryWork{Conn: c, Entry: dnsEntry("10.0.0.11")})
	ch := apply(t, EntryWork{Conn: c, Entry: dnsEntry("10.0.0.12")})
	if ch.Action != step.Update || len(ch.Fields) != 1 || ch.Fields[0] != (step.Field{Name: "address", Old: "10.0.0.11", New: "10.0.0.12"}) {
		t.Fatalf("%s %+v", ch.Action.Name(), ch.Fields)
	}
	last := writes(s)[len(writes(s))-1]
	if !strings.HasPrefix(last, "/ip/dns/static/set =.id=") || !strings.HasSuffix(last, "=address=10.0.0.12") {
		t.Errorf("set sent %q", last)
	}
}

// An entry that is not ours, or whose comment a person edited, is a
// conflict that names it; nothing is written.
func TestForeignEntryIsAConflict(t *testing.T) {
	s, c := startSim(t)
	ctx := context.Background()
	if _, err := c.Run(ctx, "/ip/dns/static/add", "=name=vault.lab", "=address=10.9.9.9", "=comment=hand-made"); err != nil {
		t.Fatal(err)
	}
	before := len(writes(s))
	ch, err := EntryWork{Conn: c, Entry: dnsEntry("10.0.0.11")}.Observe(ctx)
	if err != nil || ch.Action != step.Conflict {
		t.Fatalf("%s %v", ch.Action.Name(), err)
	}
	if !strings.Contains(ch.Reason, "name=vault.lab") || !strings.Contains(ch.Reason, "comment hand-made") || !strings.Contains(ch.Reason, "is not homelab's") {
		t.Errorf("reason %q", ch.Reason)
	}
	if len(writes(s)) != before {
		t.Error("observing wrote to the router")
	}
}

// After a dropped connection mid-add the error is retryable, and the next
// attempt observes the entry that did get made instead of adding a second.
func TestDroppedConnectionThenConverges(t *testing.T) {
	s, c := startSim(t)
	w := EntryWork{Conn: c, Entry: dnsEntry("10.0.0.11")}
	ctx := context.Background()
	ch, err := w.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.DropAfter(3) // Apply observes (two prints), then adds: drop on the add
	err = w.Apply(ctx, ch, io.Discard)
	if err == nil || !step.IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if ch := apply(t, w); ch.Action != step.None {
		t.Fatalf("after the drop: %s", ch.Action.Name())
	}
	rep, _ := c.Run(ctx, "/ip/dns/static/print", "?name=vault.lab")
	if len(rep.Re) != 1 {
		t.Errorf("%d entries, want 1", len(rep.Re))
	}
}

// A trap reaches the user with the router's words and the command.
func TestTrapCarriesTheRoutersWords(t *testing.T) {
	_, c := startSim(t)
	w := EntryWork{Conn: c, Entry: Entry{Menu: "/ip/address", Comment: "homelab:lab:router/address/lab",
		Props: []Prop{{"address", "10.0.10.1/24"}, {"interface", "br-lab"}}}}
	ctx := context.Background()
	ch, err := w.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Apply(ctx, ch, io.Discard)
	var de *DeviceError
	if !errors.As(err, &de) || de.Message != "input does not match any value of interface" || step.IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "/ip/address/add =address=10.0.10.1/24 =interface=br-lab") {
		t.Errorf("the error does not name the command: %v", err)
	}
}

func TestSilentRouterDoesNotHang(t *testing.T) {
	s, _ := startSim(t)
	c2 := NewConn(s.Addr(), "homelab", "pw", nil, 200*time.Millisecond)
	defer c2.Close()
	if _, err := c2.Run(context.Background(), "/ip/address/print"); err != nil {
		t.Fatal(err)
	}
	s.SetSilent(true)
	begin := time.Now()
	_, err := c2.Run(context.Background(), "/ip/address/print")
	if err == nil || !step.IsRetryable(err) || time.Since(begin) > 2*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(begin))
	}
}

func TestWrongPasswordIsNotRetryable(t *testing.T) {
	s, _ := startSim(t)
	c := NewConn(s.Addr(), "homelab", "nope", nil, time.Second)
	_, err := c.Run(context.Background(), "/ip/address/print")
	if err == nil || step.IsRetryable(err) || !strings.Contains(err.Error(), "invalid user name or password") || strings.Contains(err.Error(), "nope") {
		t.Fatalf("err = %v", err)
	}
}

// A dynamic lease the DHCP server gave our MAC before its reservation
// existed is made static, then set and marked as ours: one lease, not two.
func TestDynamicLeaseIsMadeStatic(t *testing.T) {
	s, c := startSim(t)
	var dynamic string
	s.Console(func(r *sim.Router) {
		r.Add("/ip/address", map[string]string{"address": "10.0.10.1/24", "interface": "bridge", "network": "10.0.10.0"})
		r.Add("/ip/pool", map[string]string{"name": "pool-lab", "ranges": "10.0.10.100-10.0.10.200"})
		r.Add("/ip/dhcp-server", map[string]string{"name": "dhcp-lab", "interface": "bridge", "address-pool": "pool-lab", "disabled": "false"})
		dynamic = r.Add("/ip/dhcp-server/lease", map[string]string{"address": "10.0.10.150", "mac-address": "02:AA:BB:CC:DD:EE", "server": "dhcp-lab", "dynamic": "true", "disabled": "false"})
	})
	w := EntryWork{Conn: c, Entry: Entry{
		Menu:     "/ip/dhcp-server/lease",
		Comment:  "homelab:lab:router/lease/lb-1",
		Props:    []Prop{{"server", "dhcp-lab"}, {"mac-address", "02:AA:BB:CC:DD:EE"}, {"address", "10.0.10.11"}},
		Identity: []string{"mac-address", "address"},
		Adopt:    "mac-address",
	}}
	ch := apply(t, w)
	if ch.Action != step.Update || !strings.Contains(ch.Reason, "dynamic entry "+dynamic) {
		t.Fatalf("plan: %s %q", ch.Action.Name(), ch.Reason)
	}
	want := []string{
		"/ip/dhcp-server/lease/set =.id=" + dynamic + " =address=10.0.10.11 =comment=homelab:lab:router/lease/lb-1",
	}
	if got := writes(s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !slices.Contains(s.Log(), "/ip/dhcp-server/lease/make-static =numbers="+dynamic) {
		t.Errorf("no make-static before the set: %v", s.Log())
	}
	if ch := apply(t, w); ch.Action != step.None {
		t.Errorf("second run: %s %v", ch.Action.Name(), ch.Fields)
	}
	rep, _ := c.Run(context.Background(), "/ip/dhcp-server/lease/print", "?mac-address=02:AA:BB:CC:DD:EE")
	if len(rep.Re) != 1 || rep.Re[0].Map["dynamic"] != "false" {
		t.Errorf("leases for the MAC: %v", rep.Re)
	}
}
