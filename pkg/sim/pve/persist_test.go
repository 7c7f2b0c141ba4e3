package pve

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

// A saved and loaded simulator answers go-proxmox as the one it was saved
// from: cluster, nodes, storages, templates, guests (configuration,
// power, agent), the next free ID and the certificate's fingerprint.
func TestSaveLoadRoundTrip(t *testing.T) {
	s, c := start(t, Options{})
	cx := ctx(t)
	waitOK := okWaiter(t, cx)
	node, err := c.Node(cx, "pve-s1")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := node.VirtualMachine(cx, 9000)
	if err != nil {
		t.Fatal(err)
	}
	_, task, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 105, Name: "lb-1", Full: true, Storage: "local-lvm"})
	waitOK(task, err)
	vm, err := node.VirtualMachine(cx, 105)
	if err != nil {
		t.Fatal(err)
	}
	waitOK(vm.Config(cx,
		proxmox.VirtualMachineOption{Name: "net0", Value: "virtio=BC:24:11:00:01:05,bridge=vmbr0,tag=10"},
		proxmox.VirtualMachineOption{Name: "ipconfig0", Value: "ip=10.0.10.5/24,gw=10.0.10.1"},
		proxmox.VirtualMachineOption{Name: "tags", Value: "homelab"}))
	waitOK(vm.Start(cx))
	_, task, err = tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 106, Name: "lb-2"})
	waitOK(task, err)
	if err := s.SetAgentAddresses(105, "10.0.10.9/24"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNodeOnline("pve-s3", false); err != nil {
		t.Fatal(err)
	}

	var saved bytes.Buffer
	if err := s.Save(&saved); err != nil {
		t.Fatal(err)
	}
	s2, err := New(Options{Schema: s.schema, NoTemplates: true, Nodes: []NodeSpec{{Name: "other"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Load(bytes.NewReader(saved.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	if err := s2.Load(bytes.NewReader(saved.Bytes())); err == nil {
		t.Error("Load after Start was accepted")
	}
	c2 := client(s2, DefaultTokenID, DefaultTokenSecret)
	if s.Fingerprint() != s2.Fingerprint() {
		t.Errorf("fingerprint %s, was %s", s2.Fingerprint(), s.Fingerprint())
	}
	for _, path := range []string{
		"/version", "/cluster/status", "/cluster/nextid", "/nodes", "/cluster/resources",
		"/nodes/pve-s1/storage", "/nodes/pve-s1/storage/local/content",
		"/nodes/pve-s1/qemu", "/nodes/pve-s1/qemu/105/config", "/nodes/pve-s1/qemu/105/status/current",
		"/nodes/pve-s1/qemu/106/config", "/nodes/pve-s1/qemu/9000/config",
		"/nodes/pve-s1/qemu/105/agent/network-get-interfaces",
	} {
		var a, b any
		errA, errB := c.Get(cx, path, &a), c2.Get(cx, path, &b)
		if errA != nil || errB != nil {
			t.Errorf("GET %s: %v, before Save: %v", path, errB, errA)
			continue
		}
		ja, jb := stable(t, a), stable(t, b)
		if ja != jb {
			t.Errorf("GET %s after Load:\n%s\nwas:\n%s", path, jb, ja)
		}
	}
	// The loaded cluster carries on: the next clone gets the next MAC and
	// the running VM stops.
	vm2, err := c2.Node(cx, "pve-s1")
	if err != nil {
		t.Fatal(err)
	}
	v, err := vm2.VirtualMachine(cx, 105)
	if err != nil || v.Status != "running" {
		t.Fatalf("VM 105 after Load: %+v %v", v, err)
	}
	waitOK(v.Stop(cx))
	if g, _ := s2.Guest(105); g.Status != "stopped" {
		t.Errorf("VM 105 after stop: %s", g.Status)
	}
}

// Load refuses what Save did not write.
func TestLoadRefusesOtherFormats(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"", "{", `{"format_version": 99}`} {
		if err := s.Load(strings.NewReader(in)); err == nil {
			t.Errorf("Load(%q) accepted", in)
		}
	}
}

// stable renders an answer as JSON without what depends on the time
// (uptimes, CPU samples).
func stable(t *testing.T, v any) string {
	t.Helper()
	var strip func(any) any
	strip = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range []string{"uptime", "cpu", "pstart"} {
				delete(x, k)
			}
			for k, e := range x {
				x[k] = strip(e)
			}
		case []any:
			for i, e := range x {
				x[i] = strip(e)
			}
		}
		return v
	}
	b, err := json.MarshalIndent(strip(v), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
