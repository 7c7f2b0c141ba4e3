package pve

import (
	"context"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

// BenchmarkGuestLifecycle is homelab's per-VM sequence through go-proxmox
// against a zero-latency simulator: clone, configure, start, read the
// agent, stop, delete. It reports API calls per guest.
func BenchmarkGuestLifecycle(b *testing.B) {
	s, c := start(b, Options{})
	cx := context.Background()
	node, err := c.Node(cx, "pve-s1")
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &proxmox.VirtualMachine{}
	tmpl.New(c, "pve-s1", 9000)
	waitOK := okWaiter(b, cx)
	s.ResetLog()
	b.ResetTimer()
	for i := range b.N {
		id := 1000 + i%1000
		_, task, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: id, Full: true, Name: "bench"})
		waitOK(task, err)
		vm, err := node.VirtualMachine(cx, id)
		if err != nil {
			b.Fatal(err)
		}
		waitOK(vm.Config(cx,
			proxmox.VirtualMachineOption{Name: "cores", Value: 2},
			proxmox.VirtualMachineOption{Name: "net0", Value: "virtio=BC:24:11:00:10:00,bridge=vmbr0,tag=10"},
			proxmox.VirtualMachineOption{Name: "ipconfig0", Value: "ip=10.0.10.50/24,gw=10.0.10.1"},
			proxmox.VirtualMachineOption{Name: "tags", Value: "homelab"},
		))
		waitOK(vm.Start(cx))
		if _, err := vm.AgentGetNetworkIFaces(cx); err != nil {
			b.Fatal(err)
		}
		waitOK(vm.Stop(cx))
		waitOK(vm.Delete(cx, nil))
	}
	b.StopTimer()
	b.ReportMetric(float64(len(s.Log()))/float64(b.N), "calls/guest")
	b.ReportMetric(float64(s.MutatingCalls())/float64(b.N), "mutating/guest")
}

// BenchmarkStatus is one read through go-proxmox (TLS, routing, schema
// check, JSON).
func BenchmarkStatus(b *testing.B) {
	_, c := start(b, Options{})
	cx := context.Background()
	vm := &proxmox.VirtualMachine{}
	vm.New(c, "pve-s1", 9000)
	b.ResetTimer()
	for range b.N {
		if err := vm.Ping(cx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateConfig(b *testing.B) {
	pve := loadPVESchema(b)
	params := map[string]string{
		"node": "pve-s1", "vmid": "105", "cores": "2", "memory": "2048", "net0": "virtio=BC:24:11:00:10:00,bridge=vmbr0,tag=10",
		"ipconfig0": "ip=10.0.10.50/24,gw=10.0.10.1", "sshkeys": proxmox.EncodeSSHKeys(testKey), "tags": "homelab;lb",
	}
	b.ResetTimer()
	for range b.N {
		if errs, _ := pve.validate("POST", "/nodes/{node}/qemu/{vmid}/config", params); errs != nil {
			b.Fatal(errs)
		}
	}
}

func BenchmarkLoadSchema(b *testing.B) {
	loadPVESchema(b)
	for range b.N {
		if _, err := LoadSchema(schemaFile); err != nil {
			b.Fatal(err)
		}
	}
}
