package homelab_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/simlab"
)

// rebootGuests stops every guest of inv through the PVE simulator's API,
// lets each simulated host see that it is off (its SSH port refuses), and
// starts them again: each boots as after a power cycle (cloud-init
// renders /etc/hosts again on the VMs).
func rebootGuests(t *testing.T, inv *inventory.Inventory, lab *simlab.Lab) {
	t.Helper()
	a := lab.Access()
	client := lab.Proxmox.HTTPClient()
	post := func(g *inventory.Guest, verb string) {
		kind := map[string]string{inventory.KindVM: "qemu", inventory.KindLXC: "lxc"}[g.Kind]
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/nodes/%s/%s/%d/status/%s", a.ProxmoxURL, g.Node, kind, g.VMID, verb), nil)
		req.Header.Set("Authorization", "PVEAPIToken="+a.ProxmoxTokenID+"="+a.ProxmoxTokenSecret)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", verb, g.Name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %s", verb, g.Name, resp.Status)
		}
	}
	wait := func(g *inventory.Guest, status string) {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if pg, ok := lab.Proxmox.Guest(g.VMID); ok && pg.Status == status {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is not %s", g.Name, status)
			}
		}
	}
	for i := range inv.Guests {
		g := &inv.Guests[i]
		post(g, "stop")
		wait(g, "stopped")
		if c, err := lab.Hosts.Dial(context.Background(), "tcp", netip.AddrPortFrom(g.IP, 22).String()); err == nil {
			c.Close()
			t.Fatalf("%s answers SSH while stopped", g.Name)
		}
		post(g, "start")
		wait(g, "running")
	}
}

// A simulated reboot of every guest of a converged HA lab (cloud-init's
// manage_etc_hosts renders each VM's /etc/hosts from its template again)
// followed by up changes nothing and points no node at master1: the
// endpoint name stays on the VIP everywhere.
func TestRebootEveryGuestThenUp(t *testing.T) {
	inv, lab := haLab(t)
	ctx := context.Background()
	opts := ApplyOptions{Clients: lab.Clients(), Parallelism: 6}
	if _, _, err := Up(ctx, inv, fullStack(t), opts); err != nil {
		t.Fatalf("up: %v", err)
	}
	rebootGuests(t, inv, lab)
	nodes := []string{"master-1", "master-2", "master-3", "worker-1"}
	for _, n := range nodes {
		h, _ := lab.Hosts.Host(n)
		var out strings.Builder
		if code := h.Run(ctx, "root", "cat /etc/hosts", nil, &out, &out); code != 0 ||
			!strings.Contains(out.String(), "manage_etc_hosts") || !strings.Contains(out.String(), "192.168.30.10 k8s-api.home.example") {
			t.Errorf("%s /etc/hosts after the reboot (rendered by cloud-init, with the endpoint on the VIP):\n%s", n, out.String())
		}
	}
	converged(t, inv, lab, "the plan after a reboot of every guest")
	var log runLog
	opts.Sink = engine.SinkFunc(log.Event)
	if _, _, err := Up(ctx, inv, fullStack(t), opts); err != nil {
		t.Fatalf("up after the reboot: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	for _, n := range nodes {
		h, _ := lab.Hosts.Host(n)
		hosts, _ := os.ReadFile(h.Root() + "/etc/hosts")
		if strings.Contains(string(hosts), "192.168.30.21 k8s-api") || !strings.Contains(string(hosts), "192.168.30.10 k8s-api.home.example") {
			t.Errorf("%s /etc/hosts after up:\n%s", n, hosts)
		}
	}
	for _, l := range log.lines {
		if strings.Contains(l, "in /etc/hosts") {
			t.Errorf("up after the reboot changed /etc/hosts: %s", l)
		}
	}
	healthy(t, lab)
}

// When cloud-init's hosts template lost the block (a lab made before
// homelab kept it there), a reboot drops the endpoint from /etc/hosts:
// the pin finds the cluster already behind the VIP (kube-proxy restarted
// for it) and pins the name to the VIP, never to master1.
func TestPinAfterTheVIPGateNeverPointsAtMaster1(t *testing.T) {
	inv, lab := haLab(t)
	ctx := context.Background()
	opts := ApplyOptions{Clients: lab.Clients(), Parallelism: 6}
	if _, _, err := Up(ctx, inv, fullStack(t), opts); err != nil {
		t.Fatalf("up: %v", err)
	}
	nodes := []string{"master-1", "master-2", "master-3", "worker-1"}
	for _, n := range nodes {
		h, _ := lab.Hosts.Host(n)
		if code := h.Run(ctx, "root", "sed -i '/homelab/d; /k8s-api/d' /etc/cloud/templates/hosts.debian.tmpl", nil, nil, nil); code != 0 {
			t.Fatalf("%s: sed: %d", n, code)
		}
	}
	rebootGuests(t, inv, lab)
	var log runLog
	opts.Sink = engine.SinkFunc(log.Event)
	if _, _, err := Up(ctx, inv, fullStack(t), opts); err != nil {
		t.Fatalf("up after the reboot: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	for _, l := range log.lines {
		if strings.Contains(l, "192.168.30.21 in /etc/hosts") || strings.Contains(l, "-> 192.168.30.21") {
			t.Errorf("a node was pointed at master1: %s", l)
		}
	}
	for _, n := range nodes {
		h, _ := lab.Hosts.Host(n)
		hosts, _ := os.ReadFile(h.Root() + "/etc/hosts")
		tmpl, _ := os.ReadFile(h.Root() + "/etc/cloud/templates/hosts.debian.tmpl")
		if !strings.Contains(string(hosts), "192.168.30.10 k8s-api.home.example") || !strings.Contains(string(tmpl), "192.168.30.10 k8s-api.home.example") {
			t.Errorf("%s after up: /etc/hosts\n%s\ntemplate\n%s", n, hosts, tmpl)
		}
	}
	converged(t, inv, lab, "the plan after up")
}
