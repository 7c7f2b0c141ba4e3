package routeros

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"testing"
	"time"

	ros "github.com/go-routeros/routeros/v3"
)

// login dials and logs in, returning the error instead of failing.
func login(addr string) (*ros.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	c, err := ros.NewClient(deadlineConn{conn, time.Second})
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.Login("homelab", "pw"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Enabling VLAN filtering on the bridge that holds the management address
// drops the session (the bridge re-forms); untagged access through the
// PVID keeps the router reachable, and RouterOS's dynamic PVID rows appear.
func TestEnableFilteringDropsTheSession(t *testing.T) {
	s, addr := start(t)
	c := dial(t, addr)
	if _, err := c.Run("/interface/bridge/set", "=numbers="+bridgeID(t, c), "=vlan-filtering=yes"); err == nil {
		t.Fatal("the session survived enabling VLAN filtering")
	}
	if s.LockedOut() {
		t.Fatal("untagged management through the PVID locked the router out")
	}
	c2, err := login(addr)
	if err != nil {
		t.Fatalf("redial after the drop: %v", err)
	}
	defer c2.Close()
	rep, err := c2.Run("/interface/bridge/vlan/print")
	if err != nil || len(rep.Re) != 1 || rep.Re[0].Map["dynamic"] != "true" || rep.Re[0].Map["vlan-ids"] != "1" {
		t.Fatalf("dynamic PVID rows: %v %v", rep, err)
	}
}

// Management on a VLAN interface over the bridge: filtering without a row
// that tags the bridge in that VLAN locks every client out, as on a real
// router; with the row, the router stays reachable.
func TestFilteringLockOut(t *testing.T) {
	for _, covered := range []bool{false, true} {
		name := map[bool]string{false: "uncovered", true: "covered"}[covered]
		t.Run(name, func(t *testing.T) {
			s := New(Options{Users: map[string]string{"homelab": "pw"}, Management: netip.MustParseAddr("10.0.99.1")})
			addr, err := s.Start()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c := dial(t, addr)
			setup := [][]string{
				{"/interface/vlan/add", "=name=mgmt", "=vlan-id=99", "=interface=bridge"},
				{"/ip/address/add", "=address=10.0.99.1/24", "=interface=mgmt"},
			}
			if covered {
				setup = append(setup, []string{"/interface/bridge/vlan/add", "=bridge=bridge", "=vlan-ids=10,99", "=tagged=bridge,ether2"})
			}
			for _, cmd := range setup {
				if _, err := c.Run(cmd...); err != nil {
					t.Fatalf("%v: %v", cmd, err)
				}
			}
			if _, err := c.Run("/interface/bridge/set", "=numbers="+bridgeID(t, c), "=vlan-filtering=yes"); err == nil {
				t.Fatal("the session survived enabling VLAN filtering")
			}
			c2, err := login(addr)
			if covered {
				if err != nil || s.LockedOut() {
					t.Fatalf("covered path: redial %v, locked out %v", err, s.LockedOut())
				}
				c2.Close()
				return
			}
			if err == nil {
				c2.Close()
				t.Fatal("an uncovered management path still answers")
			}
			if !s.LockedOut() {
				t.Fatal("not locked out")
			}
			// Someone at the console turns filtering off again.
			s.Console(func(r *Router) {
				b := r.find("/interface/bridge", "bridge")
				r.Set("/interface/bridge", b.id, map[string]string{"vlan-filtering": "false"})
			})
			c3, err := login(addr)
			if err != nil {
				t.Fatalf("after the console fix: %v", err)
			}
			c3.Close()
		})
	}
}

func bridgeID(t *testing.T, c *ros.Client) string {
	t.Helper()
	rep, err := c.Run("/interface/bridge/print", "?name=bridge")
	if err != nil || len(rep.Re) != 1 {
		t.Fatalf("bridge: %v %v", rep, err)
	}
	return rep.Re[0].Map[".id"]
}

// api-ssl: the same protocol over TLS, to go-routeros's DialTLS with the
// simulator's certificate trusted.
func TestTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "router"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{
		Users: map[string]string{"homelab": "pw"},
		TLS:   &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
	})
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)

	c, err := ros.DialTLSTimeout(addr, "homelab", "pw", &tls.Config{RootCAs: pool}, 2*time.Second)
	if err != nil {
		t.Fatalf("api-ssl login: %v", err)
	}
	defer c.Close()
	rep, err := c.Run("/ip/address/print", "?address=192.168.88.1/24")
	if err != nil || len(rep.Re) != 1 {
		t.Fatalf("print over TLS: %v %v", rep, err)
	}
	if _, err := ros.DialTLSTimeout(addr, "homelab", "pw", &tls.Config{}, 2*time.Second); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
}
