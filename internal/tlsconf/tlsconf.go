// Package tlsconf turns an inventory's TLS settings into a *tls.Config:
// a CA file, a pinned SHA-256 certificate fingerprint, or (only when the
// inventory says so) no verification at all.
package tlsconf

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
)

// Config returns the client TLS configuration for a server named
// serverName. Insecure is the caller's to warn about.
func Config(t inventory.TLS, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	switch {
	case t.Insecure:
		cfg.InsecureSkipVerify = true
	case t.Fingerprint != "":
		want, err := ParseFingerprint(t.Fingerprint)
		if err != nil {
			return nil, err
		}
		// The pin replaces chain and name checks: self-signed router and
		// Proxmox certificates are the norm in homelabs.
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("the server sent no certificate")
			}
			got := sha256.Sum256(raw[0])
			if !bytes.Equal(got[:], want) {
				return fmt.Errorf("certificate fingerprint %s does not match the pinned %s", Fingerprint(raw[0]), t.Fingerprint)
			}
			return nil
		}
	case t.CAFile != "":
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no PEM certificate in it", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// ParseFingerprint reads a SHA-256 fingerprint: "SHA256:aa:bb:...", or
// PVE's "AA:BB:..." as its web UI shows it (prefix and colons optional,
// any case), as inventory validation accepts it.
func ParseFingerprint(s string) ([]byte, error) {
	hexPart := strings.TrimSpace(s)
	for _, prefix := range []string{"SHA256:", "sha256:"} {
		hexPart = strings.TrimPrefix(hexPart, prefix)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(hexPart, ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("tls fingerprint %q: want SHA256:<64 hex digits>", s)
	}
	return b, nil
}

// Fingerprint formats a DER certificate's SHA-256 the way inventories pin it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return "SHA256:" + strings.Join(parts, ":")
}
