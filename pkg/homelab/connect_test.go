package homelab

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/internal/tlsconf"
	"github.com/homelabctl/homelab/pkg/inventory"
	simpve "github.com/homelabctl/homelab/pkg/sim/pve"
	sim "github.com/homelabctl/homelab/pkg/sim/routeros"
)

// Connect builds the router session from the inventory: the password from
// its reference, api-ssl verified against the pinned fingerprint.
func TestConnectRouterOverPinnedTLS(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "router"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	s := sim.New(sim.Options{
		Users: map[string]string{"homelab": "router-pw"},
		TLS:   &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
	})
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	inv := &inventory.Inventory{
		Router: inventory.Router{
			Address: addr, Username: "homelab", Password: "env:TEST_ROUTER_PASSWORD",
			TLS: &inventory.TLS{Fingerprint: tlsconf.Fingerprint(der)},
		},
		Proxmox: inventory.Proxmox{Endpoint: "https://127.0.0.1:1/api2/json", TokenID: "homelab@pve!homelab", TokenSecret: "env:TEST_PVE_SECRET"},
	}
	secrets := inventory.Resolver{LookupEnv: func(name string) (string, bool) {
		return "router-pw", name == "TEST_ROUTER_PASSWORD" || name == "TEST_PVE_SECRET"
	}}
	c, err := Connect(context.Background(), inv, ConnectOptions{Secrets: secrets, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Router.Run(context.Background(), "/ip/address/print"); err != nil {
		t.Fatalf("print over pinned TLS: %v", err)
	}

	// A different pin refuses the router, and says why.
	other := *inv
	other.Router.TLS = &inventory.TLS{Fingerprint: "SHA256:" + strings.Repeat("00", 32)}
	c2, err := Connect(context.Background(), &other, ConnectOptions{Secrets: secrets, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, err = c2.Router.Run(context.Background(), "/ip/address/print")
	if err == nil || !strings.Contains(err.Error(), "does not match the pinned") || strings.Contains(err.Error(), "router-pw") {
		t.Fatalf("err = %v", err)
	}

	// A missing secret is an error before anything is dialled.
	if _, err := Connect(context.Background(), inv, ConnectOptions{Secrets: inventory.Resolver{LookupEnv: func(string) (string, bool) { return "", false }}}); err == nil || !strings.Contains(err.Error(), "router password") {
		t.Fatalf("err = %v", err)
	}
}

// Connect builds the Proxmox client from the inventory: the token secret
// from its reference, TLS pinned to the certificate's SHA-256; a wrong pin
// is refused, and the secret never shows in an error.
func TestConnectProxmoxOverPinnedTLS(t *testing.T) {
	const secret = "6f0c3a1e-5b2d-4c8e-9a7f-1d3e5b7c9a2f"
	srv, err := simpve.New(simpve.Options{Tokens: []simpve.Token{{ID: "homelab@pve!homelab", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	inv := &inventory.Inventory{
		Router:  inventory.Router{Address: "127.0.0.1:1", Username: "homelab", Password: "env:PW"},
		Proxmox: inventory.Proxmox{Endpoint: srv.URL(), TokenID: "homelab@pve!homelab", TokenSecret: "env:PVE_SECRET", TLS: inventory.TLS{Fingerprint: srv.Fingerprint()}},
	}
	secrets := inventory.Resolver{LookupEnv: func(name string) (string, bool) {
		return map[string]string{"PW": "x", "PVE_SECRET": secret}[name], true
	}}
	c, err := Connect(context.Background(), inv, ConnectOptions{Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Proxmox.Guests(context.Background()); err != nil {
		t.Fatalf("list guests over pinned TLS: %v", err)
	}
	inv.Proxmox.TLS.Fingerprint = "SHA256:" + strings.Repeat("ab", 32)
	c2, err := Connect(context.Background(), inv, ConnectOptions{Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.Proxmox.Guests(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not match the pinned") || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
}
