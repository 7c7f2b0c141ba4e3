package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

const (
	kubeDir      = "/etc/kubernetes"
	pkiDir       = "/etc/kubernetes/pki"
	manifestsDir = "/etc/kubernetes/manifests"
	etcdDataDir  = "/var/lib/etcd"
	kubeletDir   = "/var/lib/kubelet"
)

// keyPair is a certificate and its key, PEM.
type keyPair struct{ cert, key []byte }

// notBefore is when certificates made at now start: kubeadm's NotBefore
// is its clock, but the simulated clock may run ahead of the one that
// verifies them.
func notBefore(now time.Time) time.Time {
	if real := time.Now(); real.Before(now) {
		now = real
	}
	return now.Add(-5 * time.Minute).UTC()
}

// newCA makes a self-signed CA valid ten years from now, as kubeadm's.
func newCA(cn string, now time.Time) (keyPair, error) {
	return sign(&x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:  x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		NotBefore: notBefore(now), NotAfter: now.Add(87600 * time.Hour).UTC()}, keyPair{})
}

// newLeaf makes a certificate signed by ca for one year.
func newLeaf(ca keyPair, cn string, org []string, names []string, server bool, now time.Time) (keyPair, error) {
	t := &x509.Certificate{Subject: pkix.Name{CommonName: cn, Organization: org},
		KeyUsage:  x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		NotBefore: notBefore(now), NotAfter: now.Add(8760 * time.Hour).UTC()}
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if server {
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, n := range names {
			if ip := net.ParseIP(n); ip != nil {
				t.IPAddresses = append(t.IPAddresses, ip)
			} else {
				t.DNSNames = append(t.DNSNames, n)
			}
		}
	}
	return sign(t, ca)
}

// sign makes a key and signs t with ca (itself when ca is empty).
func sign(t *x509.Certificate, ca keyPair) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	t.SerialNumber = serial
	parent, signer := t, any(key)
	if ca.cert != nil {
		pc, pk, err := parsePair(ca)
		if err != nil {
			return keyPair{}, err
		}
		parent, signer = pc, pk
	}
	der, err := x509.CreateCertificate(rand.Reader, t, parent, &key.PublicKey, signer)
	if err != nil {
		return keyPair{}, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}, nil
}

func parsePair(p keyPair) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(p.cert)
	kb, _ := pem.Decode(p.key)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("no PEM data")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	return cert, key, err
}

// pin is kubeadm's CA public key pin: sha256 of the SubjectPublicKeyInfo.
func pin(caPEM []byte) string {
	b, _ := pem.Decode(caPEM)
	if b == nil {
		return ""
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// digest is the hex SHA-256 of a certificate key.
func digest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// kubeconfig renders a kubeconfig as kubeadm writes them.
func kubeconfig(server, user string, ca []byte, client keyPair) []byte {
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Appendf(nil, `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: %s
    server: %s
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: %s
  name: %s@kubernetes
current-context: %s@kubernetes
kind: Config
preferences: {}
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
`, b64(ca), server, user, user, user, user, b64(client.cert), b64(client.key))
}

// apiserverNames are the SANs of a control plane's apiserver certificate,
// as kubeadm's GetAPIServerAltNames gives them.
func apiserverNames(c *Cluster, node, advertise string) []string {
	names := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + c.DNSDomain, node}
	if h := hostName(c.Endpoint); h != "" {
		names = append(names, h)
	}
	names = append(names, firstServiceIP(c.ServiceSubnet), advertise)
	for _, n := range c.CertSANs {
		if !contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// firstServiceIP is the first address of the service subnet.
func firstServiceIP(subnet string) string {
	_, n, err := net.ParseCIDR(subnet)
	if err != nil {
		return "10.96.0.1"
	}
	ip := n.IP.To4()
	if ip == nil {
		return "10.96.0.1"
	}
	out := make(net.IP, 4)
	copy(out, ip)
	out[3]++
	return out.String()
}

// files writes and removes files on a host for a program.
type files struct{ c *host.Call }

func (f files) write(p string, content []byte, mode os.FileMode) error {
	if err := os.MkdirAll(f.c.Local(path.Dir(p)), 0o755); err != nil {
		return err
	}
	return os.WriteFile(f.c.Local(p), content, mode)
}

func (f files) read(p string) ([]byte, error) { return os.ReadFile(f.c.Local(p)) }

func (f files) exists(p string) bool {
	_, err := os.Stat(f.c.Local(p))
	return err == nil
}

// nonEmpty reports whether a directory has entries.
func (f files) nonEmpty(p string) bool {
	e, err := os.ReadDir(f.c.Local(p))
	return err == nil && len(e) > 0
}

// clear removes a directory's contents, keeping it.
func (f files) clear(p string) {
	entries, _ := os.ReadDir(f.c.Local(p))
	for _, e := range entries {
		os.RemoveAll(f.c.Local(path.Join(p, e.Name())))
	}
}

func (f files) remove(p string) { os.RemoveAll(f.c.Local(p)) }
