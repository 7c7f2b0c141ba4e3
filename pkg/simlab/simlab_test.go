package simlab

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/remote"
)

// A guest's SSH port refuses until the PVE simulator runs the guest, for
// the guests phase's dial and for SSH; Close stops every host and removes
// their files.
func TestSimulatedHostsFollowProxmox(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	lab, err := Start(context.Background(), inv, Options{VRRPScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := lab.Save(); !errors.Is(err, ErrNoStateDir) {
		t.Errorf("Save of a throwaway lab: %v, want ErrNoStateDir", err)
	}
	g, _ := inv.Guest("lb-1")
	addr := netip.AddrPortFrom(g.IP, 22).String()
	c := lab.Clients()
	if conn, err := c.Dial(ctx, "tcp", addr); err == nil {
		conn.Close()
		t.Fatal("the SSH port of a guest that does not exist answers")
	}
	h, err := c.Hosts("lb-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Read(ctx, "/etc/hostname"); err == nil || !remote.NotAnswering(ctx, err) {
		t.Fatalf("SSH to a guest that does not run: %v", err)
	}
	file, err := plan.LoadFile("../../plans/infrastructure.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := homelab.Up(ctx, inv, file, homelab.ApplyOptions{Clients: c}); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("the guest runs, its SSH port does not answer: %v", err)
	}
	conn.Close()
	b, err := h.Read(ctx, "/etc/hostname")
	if err != nil || string(b) != "lb-1\n" {
		t.Fatalf("read /etc/hostname over SSH: %q %v", b, err)
	}
	sshAddr := lab.Access().SSHHosts["lb-1"]
	dir := lab.dir
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the hosts' files are still there: %v", err)
	}
	_, hostPort, _ := strings.Cut(sshAddr, "@")
	if conn, err := net.DialTimeout("tcp", hostPort, time.Second); err == nil {
		conn.Close()
		t.Error("a host's SSH port still answers after Close")
	}
}
