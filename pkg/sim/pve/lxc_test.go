package pve

import (
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

// TestContainerFlow creates, configures, starts and removes a container
// from a vztmpl through go-proxmox.
func TestContainerFlow(t *testing.T) {
	s, c := start(t, Options{})
	cx := ctx(t)
	waitOK := okWaiter(t, cx)
	node, err := c.Node(cx, "pve-s2")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := node.VzTmpl(cx, "debian-12-standard_12.7-1_amd64.tar.zst", "local")
	if err != nil || tmpl.VolID != DefaultCTTemplate {
		t.Fatalf("VzTmpl: %+v %v", tmpl, err)
	}
	task, err := node.NewContainer(cx, 120,
		proxmox.ContainerOption{Name: "ostemplate", Value: DefaultCTTemplate},
		proxmox.ContainerOption{Name: "hostname", Value: "dns-1"},
		proxmox.ContainerOption{Name: "net0", Value: "name=eth0,bridge=vmbr0,ip=10.0.20.5/24,gw=10.0.20.1,tag=20"},
		proxmox.ContainerOption{Name: "rootfs", Value: "local-lvm:8"},
		proxmox.ContainerOption{Name: "features", Value: "nesting=1"},
		proxmox.ContainerOption{Name: "unprivileged", Value: 1},
		proxmox.ContainerOption{Name: "ssh-public-keys", Value: testKey},
		proxmox.ContainerOption{Name: "password", Value: "hunter2"},
		proxmox.ContainerOption{Name: "cores", Value: 1},
		proxmox.ContainerOption{Name: "memory", Value: 512},
		proxmox.ContainerOption{Name: "tags", Value: "homelab"},
		proxmox.ContainerOption{Name: "start", Value: 1},
	)
	if task == nil || task.Type != "vzcreate" || task.ID != "120" {
		t.Fatalf("NewContainer: %+v %v", task, err)
	}
	waitOK(task, err)
	ct, err := node.Container(cx, 120)
	if err != nil {
		t.Fatalf("Container: %v", err)
	}
	cfg := ct.ContainerConfig
	if ct.Status != "running" || cfg.Hostname != "dns-1" || cfg.RootFS != "local-lvm:vm-120-disk-0,size=8G" || !bool(cfg.Unprivileged) {
		t.Errorf("container %+v config %+v", ct, cfg)
	}
	if net0 := cfg.Nets["net0"]; !strings.HasPrefix(net0, "name=eth0,bridge=vmbr0,gw=10.0.20.1,hwaddr=BC:24:11:") || !strings.HasSuffix(net0, ",ip=10.0.20.5/24,tag=20,type=veth") {
		t.Errorf("net0 = %q", net0)
	}
	ifaces, err := ct.Interfaces(cx)
	if err != nil || len(ifaces) != 2 || ifaces[1].Inet != "10.0.20.5/24" {
		t.Errorf("Interfaces: %+v %v", ifaces, err)
	}
	task, err = ct.Config(cx, proxmox.ContainerOption{Name: "memory", Value: 1024})
	if err != nil || task != nil {
		t.Errorf("PUT config: task %v err %v, want nil and nil", task, err)
	}
	for _, r := range s.Log() {
		if r.Params["password"] != "" && r.Params["password"] != "<redacted>" {
			t.Errorf("password logged: %+v", r)
		}
	}
	if _, err := ct.Start(cx); err == nil || err.Error() != "500 CT 120 already running" {
		t.Errorf("start a running CT: %v", err)
	}
	if _, err := ct.Delete(cx, nil); err == nil || err.Error() != "500 unable to destroy CT 120 - container is running" {
		t.Errorf("delete a running CT: %v", err)
	}
	waitOK(ct.Shutdown(cx, false, 30))
	if _, err := ct.Stop(cx); err == nil || err.Error() != "500 CT 120 not running" {
		t.Errorf("stop a stopped CT: %v", err)
	}
	waitOK(ct.Delete(cx, &proxmox.ContainerDeleteOptions{Purge: true}))
	if _, ok := s.Guest(120); ok {
		t.Error("container still there after delete")
	}

	if _, err := node.NewContainer(cx, 9001, proxmox.ContainerOption{Name: "ostemplate", Value: DefaultCTTemplate}); err == nil ||
		err.Error() != "500 unable to create CT 9001 - VM 9001 already exists on node 'pve-s2'" {
		t.Errorf("create on a used VMID: %v", err)
	}
	task = waiter(t, cx)(node.NewContainer(cx, 121,
		proxmox.ContainerOption{Name: "ostemplate", Value: "local:vztmpl/missing.tar.zst"},
		proxmox.ContainerOption{Name: "rootfs", Value: "local-lvm:2"}))
	if task.ExitStatus != "unable to create CT 121 - volume 'local:vztmpl/missing.tar.zst' does not exist" {
		t.Errorf("missing template: %q", task.ExitStatus)
	}
}
