package pve

import (
	"regexp"
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

var reUPID = regexp.MustCompile(`^UPID:[a-zA-Z0-9-]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[a-z]+:[^:]*:[^:]+@[^:]+:$`)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJk0dnqS3b1mS0Y1pIlvNn3h4x0c1mTnvQ1GQ3o4Kc8 ops@homelab"

// TestCloneConfigureStart walks homelab's VM flow through go-proxmox:
// clone a template, configure it, grow its disk, start it, read the
// agent's addresses.
func TestCloneConfigureStart(t *testing.T) {
	s, c := start(t, Options{})
	cx := ctx(t)
	waitOK := okWaiter(t, cx)
	node, err := c.Node(cx, "pve-s1")
	if err != nil {
		t.Fatalf("Node: %v", err)
	}
	tmpl, err := node.VirtualMachine(cx, 9000)
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	if !bool(tmpl.Template) {
		t.Fatalf("9000 is not a template: %+v", tmpl)
	}
	newid, task, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 105, Name: "lb-1", Full: true, Storage: "local-lvm"})
	if err != nil || newid != 105 {
		t.Fatalf("Clone: %d %v", newid, err)
	}
	if !reUPID.MatchString(string(task.UPID)) {
		t.Errorf("UPID %q is not in PVE's format", task.UPID)
	}
	if task.Type != "qmclone" || task.ID != "9000" || task.User != DefaultTokenID || task.Node != "pve-s1" {
		t.Errorf("clone task = %s/%s by %s on %s, want qmclone/9000 by %s on pve-s1", task.Type, task.ID, task.User, task.Node, DefaultTokenID)
	}
	waitOK(task, nil)

	vm, err := node.VirtualMachine(cx, 105)
	if err != nil {
		t.Fatalf("VirtualMachine(105): %v", err)
	}
	if vm.Name != "lb-1" || bool(vm.Template) || vm.Lock != "" {
		t.Fatalf("clone = name %q template %v lock %q", vm.Name, vm.Template, vm.Lock)
	}
	const mac = "BC:24:11:00:01:05"
	task, err = vm.Config(cx,
		proxmox.VirtualMachineOption{Name: "cores", Value: 2},
		proxmox.VirtualMachineOption{Name: "memory", Value: 2048},
		proxmox.VirtualMachineOption{Name: "net0", Value: "virtio=" + mac + ",bridge=vmbr0,tag=10"},
		proxmox.VirtualMachineOption{Name: "ipconfig0", Value: "ip=10.0.10.5/24,gw=10.0.10.1"},
		proxmox.VirtualMachineOption{Name: "ciuser", Value: "debian"},
		proxmox.VirtualMachineOption{Name: "sshkeys", Value: proxmox.EncodeSSHKeys(testKey)},
		proxmox.VirtualMachineOption{Name: "tags", Value: "homelab;LB"},
		proxmox.VirtualMachineOption{Name: "description", Value: "homelab: lab/lb-1"},
	)
	if task == nil || task.Type != "qmconfig" {
		t.Fatalf("Config task = %+v, %v", task, err)
	}
	waitOK(task, err)
	waitOK(vm.ResizeDisk(cx, "scsi0", "+8G"))

	if err := vm.Ping(cx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	cfg := vm.VirtualMachineConfig
	if cfg.Cores == nil || *cfg.Cores != 2 || int(cfg.Memory) != 2048 {
		t.Errorf("cores/memory = %v/%v", cfg.Cores, cfg.Memory)
	}
	if got := cfg.Nets["net0"]; got != "virtio="+mac+",bridge=vmbr0,tag=10" {
		t.Errorf("net0 = %q", got)
	}
	if cfg.Tags != "homelab;lb" || !vm.HasTag("homelab") {
		t.Errorf("tags = %q, want PVE's normalised homelab;lb", cfg.Tags)
	}
	if cfg.Description != "homelab: lab/lb-1" || cfg.CIUser != "debian" || cfg.SSHKeys != proxmox.EncodeSSHKeys(testKey) {
		t.Errorf("description/ciuser/sshkeys = %q/%q/%q", cfg.Description, cfg.CIUser, cfg.SSHKeys)
	}
	if !strings.Contains(cfg.SCSIs["scsi0"], "size=10G") || !strings.HasPrefix(cfg.SCSIs["scsi0"], "local-lvm:vm-105-disk-0") {
		t.Errorf("scsi0 = %q, want local-lvm:vm-105-disk-0,...,size=10G", cfg.SCSIs["scsi0"])
	}
	if cfg.Digest == "" {
		t.Error("config has no digest")
	}

	waitOK(vm.Start(cx))
	if err := vm.Ping(cx); err != nil || !vm.IsRunning() {
		t.Fatalf("after start: running %v, %v", vm.IsRunning(), err)
	}
	ifaces, err := vm.AgentGetNetworkIFaces(cx)
	if err != nil {
		t.Fatalf("AgentGetNetworkIFaces: %v", err)
	}
	found := false
	for _, i := range ifaces {
		if strings.EqualFold(i.HardwareAddress, mac) {
			for _, a := range i.IPAddresses {
				if a.IPAddressType == "ipv4" && a.IPAddress == "10.0.10.5" && a.Prefix == 24 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("agent interfaces %+v lack %s with 10.0.10.5/24", ifaces, mac)
	}
	g, ok := s.Guest(105)
	if !ok || g.Status != "running" || g.Tags != "homelab;lb" {
		t.Errorf("Guest(105) = %+v", g)
	}
	waitOK(vm.Stop(cx))
	waitOK(vm.Delete(cx, nil))
	if _, ok := s.Guest(105); ok {
		t.Error("105 still exists after delete")
	}
}
