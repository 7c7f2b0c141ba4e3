package pve

import (
	"context"
	"testing"
)

// A node that goes offline: /cluster/resources still lists its guests
// (pmxcfs has their configs) with status "unknown", no name and no
// figures, as PVE's extract_vm_stats does without the node's status data;
// /nodes says "offline"; every call for the node is pveproxy's 595. Back
// online, the guests are listed in full again, and those with onboot=1
// run again (pve-guests starts them at boot).
func TestOfflineNodeGuestRows(t *testing.T) {
	s, c := start(t, Options{})
	ctx := context.Background()
	if err := s.Seed(Guest{VMID: 150, Kind: KindVM, Node: "pve-s2", Name: "web", Status: "running", Tags: "homelab"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(Guest{VMID: 151, Kind: KindVM, Node: "pve-s2", Name: "db", Status: "running", Config: map[string]string{"onboot": "1"}}); err != nil {
		t.Fatal(err)
	}
	row := func() map[string]any {
		t.Helper()
		var rs []map[string]any
		if err := c.Get(ctx, "/cluster/resources?type=vm", &rs); err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r["vmid"] == float64(150) {
				return r
			}
		}
		t.Fatalf("vmid 150 is not listed: %v", rs)
		return nil
	}
	if r := row(); r["status"] != "running" || r["name"] != "web" {
		t.Fatalf("online: %v", r)
	}
	if err := s.SetNodeOnline("pve-s2", false); err != nil {
		t.Fatal(err)
	}
	r := row()
	if r["status"] != "unknown" || r["node"] != "pve-s2" || r["tags"] != "homelab" || r["type"] != "qemu" {
		t.Errorf("offline: %v", r)
	}
	for _, k := range []string{"name", "maxmem", "uptime", "template"} {
		if _, ok := r[k]; ok {
			t.Errorf("offline row has %s: %v", k, r)
		}
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Node == "pve-s2" && n.Status != "offline" {
			t.Errorf("/nodes: pve-s2 is %q", n.Status)
		}
	}
	if _, code, _ := raw(t, s, "GET", "/nodes/pve-s2/qemu/150/config", goodToken, ""); code != 595 {
		t.Errorf("config of a guest on an offline node: %d, want 595", code)
	}
	if err := s.SetNodeOnline("pve-s2", true); err != nil {
		t.Fatal(err)
	}
	if r := row(); r["status"] != "stopped" || r["name"] != "web" {
		t.Errorf("back online: %v", r)
	}
	if g, ok := s.Guest(151); !ok || g.Status != "running" {
		t.Errorf("the onboot guest back online: %+v", g)
	}
}

// Marking a running guest (tags and description, what homelab adopt
// sets) applies at once, as on real PVE where both are options that need
// no restart: the guest keeps running with the same pid, and no other key
// of its config changes.
func TestMarkingARunningGuestChangesNothingElse(t *testing.T) {
	s, c := start(t, Options{})
	ctx := context.Background()
	if err := s.Seed(Guest{VMID: 160, Kind: KindVM, Node: "pve-s1", Name: "app", Status: "running", Config: map[string]string{"cores": "2", "onboot": "1"}}); err != nil {
		t.Fatal(err)
	}
	status := func() map[string]any {
		t.Helper()
		var st map[string]any
		if err := c.Get(ctx, "/nodes/pve-s1/qemu/160/status/current", &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	before, cfg := status(), map[string]string{}
	if g, ok := s.Guest(160); ok {
		cfg = g.Config
	}
	if err := c.Put(ctx, "/nodes/pve-s1/qemu/160/config", map[string]string{"tags": "homelab", "description": "homelab:lab:app"}, nil); err != nil {
		t.Fatal(err)
	}
	after := status()
	if after["status"] != "running" || after["pid"] != before["pid"] {
		t.Errorf("the guest restarted: %v -> %v", before, after)
	}
	g, _ := s.Guest(160)
	for k, v := range cfg {
		if k != "digest" && g.Config[k] != v {
			t.Errorf("config %s: %q -> %q", k, v, g.Config[k])
		}
	}
	if g.Config["tags"] != "homelab" || g.Config["description"] != "homelab:lab:app" {
		t.Errorf("the mark is not set: %v", g.Config)
	}
}
