package inventory

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
)

// An inventory edited in memory is validated as Load validates a file:
// each edit below is what a file under testdata/invalid writes into
// base.yaml, and Validate reports what Load reports for that file, at the
// same line and column (base.yaml with a one-line header comment, as
// theirs, has the same layout).
func TestValidateEditedInMemory(t *testing.T) {
	tests := []struct {
		file string
		edit func(*Inventory)
	}{
		{"duplicate-vmid", func(inv *Inventory) { inv.Guests[3].VMID = inv.Guests[2].VMID }},
		{"duplicate-ip", func(inv *Inventory) { inv.Guests[3].IP = inv.Guests[2].IP }},
		{"duplicate-name", func(inv *Inventory) { inv.Guests[1].Name = inv.Guests[0].Name }},
		{"unknown-node", func(inv *Inventory) { inv.Guests[3].Node = "pve-9" }},
		{"storage-options", func(inv *Inventory) { inv.Proxmox.Storage = "local-lvm,backup=0" }},
		{"node-path", func(inv *Inventory) {
			inv.Proxmox.Nodes[1].Name = "pve-2/qemu"
			inv.Proxmox.Templates.VM[1].Node = "pve-2/qemu"
			inv.Guests[1].Node, inv.Guests[3].Node = "pve-2/qemu", "pve-2/qemu"
		}},
		{"vlan-out-of-range", func(inv *Inventory) { inv.Networks[0].VLAN = 5000 }},
		{"vip-outside-cidr", func(inv *Inventory) { inv.LoadBalancer.VIPs[0].Address = netip.MustParseAddr("10.0.99.10") }},
	}
	data, err := os.ReadFile("../../inventories/testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(data), "\n", 3)
	if !strings.HasPrefix(lines[0], "#") || !strings.HasPrefix(lines[1], "#") {
		t.Fatalf("base.yaml no longer starts with its two comment lines: %q", lines[:2])
	}
	base := []byte("# Edited in memory.\n" + lines[2])
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, want, _ := Load("../../inventories/testdata/invalid/" + tt.file + ".yaml")
			if len(want.Errors()) == 0 {
				t.Fatalf("%s loads without errors", tt.file)
			}
			inv, _, err := Parse("../../inventories/testdata/base.yaml", base)
			if err != nil {
				t.Fatal(err)
			}
			if diags := inv.Check(); len(diags) != 0 {
				t.Fatalf("Check of a loaded inventory: %v", diags)
			}
			tt.edit(inv)
			diags, err := Validate(context.Background(), inv)
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if got, w := render(diags.Errors(), "base"), render(want.Errors(), tt.file); got != w {
				t.Errorf("Validate:\n%s\nLoad of %s:\n%s", got, tt.file, w)
			}
			if got, w := render(inv.Check().Errors(), "base"), render(want.Errors(), tt.file); got != w {
				t.Errorf("Check:\n%s\nLoad of %s:\n%s", got, tt.file, w)
			}
		})
	}
}

// render formats diagnostics without the file's name.
func render(ds Diagnostics, name string) string {
	var out []string
	for _, d := range ds {
		s := d.String()
		s = strings.Replace(s, "../../inventories/testdata/invalid/"+name+".yaml", "FILE", 1)
		s = strings.Replace(s, "../../inventories/testdata/"+name+".yaml", "FILE", 1)
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

// A loaded inventory, unchanged, validates as it loaded: the same
// warnings (an authorized_keys file that cannot be read, reported once),
// no error, and nothing read again.
func TestValidateUnchangedIsLoad(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh/id_ed25519.pub
	inv, loaded, err := Load("../../inventories/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Warnings()) != 1 {
		t.Fatalf("load warnings: %v", loaded)
	}
	diags, err := Validate(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(diags, "x"), render(loaded, "x"); got != want {
		t.Errorf("Validate:\n%s\nLoad:\n%s", got, want)
	}
}

// An inventory built in memory (no file): Validate fills the defaults
// and derived values, reads its authorized_keys, and reports problems by
// field alone; a value set in memory is checked against its grammar
// whether or not a file wrote it.
func TestValidateBuiltInMemory(t *testing.T) {
	data, err := os.ReadFile("../../inventories/testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	loaded, _, err := Parse("base.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	inv := &Inventory{Name: loaded.Name, Proxmox: loaded.Proxmox, Router: loaded.Router, Networks: loaded.Networks,
		LoadBalancer: loaded.LoadBalancer, Kubernetes: loaded.Kubernetes, SSH: loaded.SSH}
	inv.Proxmox.ParallelPerNode = 0
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@example"
	for _, g := range loaded.Guests {
		inv.Guests = append(inv.Guests, Guest{Name: g.Name, Kind: g.Kind, Node: g.Node, VMID: g.VMID, Template: g.Template,
			Network: g.Network, IP: g.IP, Roles: g.Roles, Cores: g.Cores, Memory: g.Memory, Disk: g.Disk,
			SSH: &SSH{AuthorizedKeys: []string{key}}})
	}
	diags, err := Validate(context.Background(), inv)
	if err != nil {
		t.Fatalf("a complete inventory built in memory: %v", err)
	}
	if len(diags) != 0 {
		t.Errorf("diagnostics: %v", diags)
	}
	g := &inv.Guests[0]
	if inv.Proxmox.ParallelPerNode != 2 || g.MAC != DeriveMAC(inv.Name, g.Name) || !g.MACDerived || g.SSH.User != "root" ||
		len(g.SSH.Keys) != 1 || g.SSH.Keys[0] != key {
		t.Errorf("defaults and keys not filled in: parallel %d, mac %q, ssh %+v", inv.Proxmox.ParallelPerNode, g.MAC, g.SSH)
	}

	inv.Guests[1].VMID = inv.Guests[0].VMID
	inv.Guests[0].Storage = "local-lvm,cache=unsafe"
	_, err = Validate(context.Background(), inv)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want a *ValidationError", err)
	}
	got := render(verr.Diagnostics, "x")
	for _, want := range []string{
		`guests[1].vmid: vmid "` + strconv.Itoa(inv.Guests[0].VMID) + `" is already used by guests[0].vmid`,
		`guests[0].storage: "local-lvm,cache=unsafe" is not ` + wantStorage,
	} {
		if !strings.Contains(got+"\n", want+"\n") {
			t.Errorf("diagnostics lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, ":1:1") {
		t.Errorf("a position for an inventory that has no file:\n%s", got)
	}
}
