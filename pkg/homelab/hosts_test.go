package homelab

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/sim/sshd"
)

// Connect reaches guests over SSH with the key the inventory references,
// and records their host keys on first use beside the inventory.
func TestConnectHosts(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sshd.New(sshd.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	port := netip.MustParseAddrPort(srv.Addr()).Port()

	dir := t.TempDir()
	inv := &inventory.Inventory{
		Name:    "lab",
		Source:  inventory.Source{Path: filepath.Join(dir, "lab.yaml")},
		Router:  inventory.Router{Address: "127.0.0.1:1", Password: "env:PW"},
		Proxmox: inventory.Proxmox{Endpoint: "https://127.0.0.1:1/api2/json", TokenSecret: "env:PW"},
		Guests: []inventory.Guest{{Name: "lb-1", IP: netip.MustParseAddr("127.0.0.1"),
			SSH: &inventory.SSH{User: "root", Port: int(port), PrivateKey: "env:LB_KEY"}}},
	}
	secrets := inventory.Resolver{LookupEnv: func(name string) (string, bool) {
		return map[string]string{"PW": "x", "LB_KEY": string(pem.EncodeToMemory(block))}[name], true
	}}
	c, err := Connect(context.Background(), inv, ConnectOptions{Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, err := c.Hosts("lb-1")
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Run(context.Background(), remote.Command{Script: "echo hello"})
	if err != nil || string(res.Stdout) != "hello\n" {
		t.Fatalf("run: %q %v", res.Stdout, err)
	}
	known, err := os.ReadFile(filepath.Join(dir, ".homelab", "lab", "known_hosts"))
	if err != nil || !strings.Contains(string(known), "127.0.0.1") {
		t.Fatalf("trust on first use: %q %v", known, err)
	}
	if _, err := c.Hosts("nope"); err == nil {
		t.Error("a guest that is not in the inventory")
	}
}

func TestSSHConfigJump(t *testing.T) {
	g := &inventory.Guest{Name: "w1", IP: netip.MustParseAddr("10.0.0.5"), SSH: &inventory.SSH{User: "debian", PrivateKey: "file:/k", Jump: "admin@bastion.example:2222"}}
	cfg, err := sshPolicy{}.config(g)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Address != "10.0.0.5:22" || cfg.User != "debian" || cfg.KeyFile != "/k" || cfg.Jump == nil ||
		cfg.Jump.Address != "bastion.example:2222" || cfg.Jump.User != "admin" || cfg.Jump.KeyFile != "/k" {
		t.Fatalf("config %+v jump %+v", cfg, cfg.Jump)
	}
}
