package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
)

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "router"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"router.test"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// handshake runs a TLS handshake over loopback TCP.
func handshake(t *testing.T, server tls.Certificate, client *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{server}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.(*tls.Conn).Handshake()
		c.Close()
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return tls.Client(c, client).Handshake()
}

func TestConfig(t *testing.T) {
	cert := selfSigned(t)
	other := selfSigned(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	tests := []struct {
		name    string
		tls     inventory.TLS
		wantErr string
	}{
		{"pinned fingerprint", inventory.TLS{Fingerprint: Fingerprint(cert.Certificate[0])}, ""},
		{"pinned, upper case without colons", inventory.TLS{Fingerprint: "SHA256:" + strings.ToUpper(strings.ReplaceAll(Fingerprint(cert.Certificate[0])[7:], ":", ""))}, ""},
		{"wrong fingerprint", inventory.TLS{Fingerprint: Fingerprint(other.Certificate[0])}, "does not match the pinned"},
		{"ca file", inventory.TLS{CAFile: caFile}, ""},
		{"no trust at all", inventory.TLS{}, "certificate signed by unknown authority"},
		{"insecure", inventory.TLS{Insecure: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Config(tt.tls, "router.test")
			if err != nil {
				t.Fatal(err)
			}
			err = handshake(t, cert, cfg)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("handshake: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseFingerprint(t *testing.T) {
	for _, good := range []string{"SHA256:" + strings.Repeat("ab", 32), strings.Repeat("AB:", 31) + "AB", "sha256:" + strings.Repeat("0", 64)} {
		if _, err := ParseFingerprint(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{"", "sha1:aa", "SHA256:zz", "SHA256:" + strings.Repeat("a", 62)} {
		if _, err := ParseFingerprint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
