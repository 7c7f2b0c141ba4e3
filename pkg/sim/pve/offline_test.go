package pve

import (
	"context"
	"testing"
)

// A node that goes offline: /cluster/resources still lists its guests
// (pmxcfs has their configs) with status "unknown", no name and no
// figures, as PVE's extract_vm_stats does without the node's status data;
// /nodes says "offline"; every call for the node is pveproxy's 595. Back
// online, the guests are listed in full again.
func TestOfflineNodeGuestRows(t *testing.T) {
	s, c := start(t, Options{})
	ctx := context.Background()
	if err := s.Seed(Guest{VMID: 150, Kind: KindVM, Node: "pve-s2", Name: "web", Status: "running", Tags: "homelab"}); err != nil {
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
}
