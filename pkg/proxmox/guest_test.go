package proxmox

import (
	"errors"
	"fmt"
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

func TestSpecFor(t *testing.T) {
	inv, _, err := inventory.Load("../../inventories/rachuna-net.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range inv.Guests {
		s, err := SpecFor(inv, &g)
		if err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		if s.Mark != "homelab:rachuna-net:"+g.Name || s.IP.Addr() != g.IP {
			t.Errorf("%s: mark %q ip %s", g.Name, s.Mark, s.IP)
		}
		switch g.Kind {
		case inventory.KindVM:
			if s.Template == nil || s.Template.Node != g.Node {
				t.Errorf("%s: template %+v, want the copy on %s", g.Name, s.Template, g.Node)
			}
		case inventory.KindLXC:
			if s.OSTemplate == "" {
				t.Errorf("%s: no ostemplate", g.Name)
			}
		}
	}
}

func TestNet0(t *testing.T) {
	vm := Spec{Kind: inventory.KindVM, MAC: "02:AA:BB:CC:DD:EE", Bridge: "vmbr0", VLAN: 10}
	if got := vm.net0(); got != "virtio=02:AA:BB:CC:DD:EE,bridge=vmbr0,tag=10" {
		t.Errorf("vm net0 %q", got)
	}
	vm.VLAN = 0
	if got := vm.net0(); got != "virtio=02:AA:BB:CC:DD:EE,bridge=vmbr0" {
		t.Errorf("untagged vm net0 %q", got)
	}
}

func TestSameValue(t *testing.T) {
	tests := []struct {
		key, have, want string
		same            bool
	}{
		{"cores", "2", "2", true},
		{"cores", "2", "4", false},
		{"net0", "bridge=vmbr0,virtio=02:aa:bb:cc:dd:ee,tag=10", "virtio=02:AA:BB:CC:DD:EE,bridge=vmbr0,tag=10", true},
		{"net0", "virtio=02:AA:BB:CC:DD:EE,bridge=vmbr0,tag=20", "virtio=02:AA:BB:CC:DD:EE,bridge=vmbr0,tag=10", false},
		{"net0", "virtio=02:AA:BB:CC:DD:EE,bridge=vmbr0", "virtio=02:AA:BB:CC:DD:EE,bridge=vmbr0,tag=10", false},
	}
	for _, tt := range tests {
		if got := sameValue(tt.key, tt.have, tt.want); got != tt.same {
			t.Errorf("sameValue(%s, %q, %q) = %v", tt.key, tt.have, tt.want, got)
		}
	}
}

func TestDiskSize(t *testing.T) {
	tests := []struct {
		cfg  map[string]any
		kind string
		want int
	}{
		{map[string]any{"scsi0": "local-lvm:vm-101-disk-0,iothread=1,size=32G"}, inventory.KindVM, 32},
		{map[string]any{"scsi0": "local-lvm:vm-101-disk-0,size=2252M"}, inventory.KindVM, 2},
		{map[string]any{"scsi0": "local-lvm:vm-101-disk-0,size=1T"}, inventory.KindVM, 1024},
		{map[string]any{"rootfs": "local-lvm:vm-105-disk-0,size=8G"}, inventory.KindLXC, 8},
		{map[string]any{}, inventory.KindVM, 0},
	}
	for _, tt := range tests {
		if got := diskGiB(tt.cfg, tt.kind); got != tt.want {
			t.Errorf("diskGiB(%v) = %d, want %d", tt.cfg, got, tt.want)
		}
	}
}

func TestTagsAndOwnership(t *testing.T) {
	if got := addTag("prod;web", OwnerTag); got != "homelab;prod;web" {
		t.Errorf("addTag %q", got)
	}
	if got := addTag("homelab", OwnerTag); got != "homelab" {
		t.Errorf("addTag twice %q", got)
	}
	for _, tt := range []struct {
		cfg   map[string]any
		owned bool
	}{
		{map[string]any{"tags": "homelab"}, true},
		{map[string]any{"tags": "web;HOMELAB"}, true},
		{map[string]any{"description": "homelab:lab:lb-1"}, true},
		{map[string]any{"tags": "homelab-old", "description": "made by hand"}, false},
		{map[string]any{}, false},
	} {
		if owned(tt.cfg) != tt.owned {
			t.Errorf("owned(%v) = %v", tt.cfg, !tt.owned)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err       error
		retryable bool
	}{
		{errors.New("500 can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout"), true},
		{errors.New("clone failed: cfs-lock 'storage-local-lvm' error: got lock request timeout"), true},
		{errors.New("500 got no worker upid - start worker failed"), true},
		{fmt.Errorf("clone: %w", errors.New("503 Service Unavailable")), true},
		{errors.New("596 Broken pipe"), true},
		{errors.New("not authorized to access endpoint"), false},
		{errors.New(`bad request: 400 Parameter verification failed. - {"vmid":"VM 200 already exists"}`), false},
		{errors.New("500 unable to create VM 101 - VM 101 already exists on node 'pve-s2'"), false},
		{errors.New(`Get "https://pve:8006": tls: failed to verify certificate: x509: certificate signed by unknown authority`), false},
	}
	for _, tt := range tests {
		if got := step.IsRetryable(classify(tt.err)); got != tt.retryable {
			t.Errorf("classify(%q) retryable = %v", tt.err, got)
		}
	}
}
