package kubeadm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// testSecrets are realistic fake secrets: the shapes kubeadm accepts.
var testSecrets = Secrets{
	Token:          "abcdef.0123456789abcdef",
	CertificateKey: "3f2a0c9e8d7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877",
	CACertHash:     "sha256:7b1c2b4d9e0f3a5c6d8e7f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c",
}

// inventories are the example inventories the golden cases render.
var inventories = map[string]string{
	"rachuna-net": "../../inventories/rachuna-net.yaml",
	"small":       "../../inventories/small.yaml",
}

// testVersions are a release of every minor homelab accepts
// (kubeversion.Releases), as the module proxy serves them.
var testVersions = []string{"1.34.2", "1.35.4", "1.36.3", "1.37.2"}

func loadInventory(t testing.TB, name string) *inventory.Inventory {
	t.Helper()
	inv, _, err := inventory.Load(inventories[name])
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return inv
}

// withVersion returns a copy of inv whose kubernetes.version is version.
func withVersion(inv *inventory.Inventory, version string) *inventory.Inventory {
	c := *inv
	k := *inv.Kubernetes
	k.Version = version
	c.Kubernetes = &k
	return &c
}

// renderCase is one rendered file of one inventory.
type renderCase struct {
	name   string
	render func(*inventory.Inventory, Secrets) ([]byte, error)
}

// renderCases are init on master1, a second control plane's join (when the
// inventory has one) and the first worker's join.
func renderCases(inv *inventory.Inventory) []renderCase {
	masters, workers := inv.ControlPlanes(), inv.Workers()
	cases := []renderCase{{"init-" + masters[0].Name, func(inv *inventory.Inventory, s Secrets) ([]byte, error) {
		return InitConfig(inv, masters[0], s)
	}}}
	if len(masters) > 1 {
		cases = append(cases, renderCase{"join-" + masters[1].Name, func(inv *inventory.Inventory, s Secrets) ([]byte, error) {
			return JoinConfig(inv, masters[1], true, s)
		}})
	}
	if len(workers) > 0 {
		cases = append(cases, renderCase{"join-" + workers[0].Name, func(inv *inventory.Inventory, s Secrets) ([]byte, error) {
			return JoinConfig(inv, workers[0], false, s)
		}})
	}
	return cases
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/kubeadm -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./pkg/kubeadm -update and review the diff)\n--- got ---\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	for name := range inventories {
		base := loadInventory(t, name)
		for _, version := range testVersions {
			inv := withVersion(base, version)
			for _, c := range renderCases(inv) {
				t.Run(fmt.Sprintf("%s/%s/%s", name, version, c.name), func(t *testing.T) {
					got, err := c.render(inv, testSecrets)
					if err != nil {
						t.Fatal(err)
					}
					checkGolden(t, filepath.Join("testdata", "golden", name, version, c.name+".yaml"), got)
				})
			}
		}
	}
}

// TestGoldenOptions renders each inventory at 1.34.2 with the mirrored
// lab's options: imageRepository, failCgroupV1 and a
// KubeProxyConfiguration; and the same with them off (0 and false are
// written, not left out).
func TestGoldenOptions(t *testing.T) {
	zero, no := 0, false
	for name := range inventories {
		inv := withVersion(loadInventory(t, name), "1.34.2")
		inv.Kubernetes.ImageRepository = "registry.lab.example:5000/k8s"
		inv.Kubernetes.KubeProxy.ConntrackMaxPerCore = &zero
		inv.Kubernetes.Kubelet.FailCgroupV1 = &no
		c := renderCases(inv)[0]
		t.Run(name, func(t *testing.T) {
			got, err := c.render(inv, testSecrets)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"imageRepository: \"registry.lab.example:5000/k8s\"\n", "failCgroupV1: false\n", "kind: KubeProxyConfiguration\nconntrack:\n  maxPerCore: 0\n"} {
				if !bytes.Contains(got, []byte(want)) {
					t.Errorf("no %q", want)
				}
			}
			checkGolden(t, filepath.Join("testdata", "golden", name, "options", c.name+".yaml"), got)
		})
	}
}

// TestGoldenRedacted renders each inventory at its own version as a plan
// shows it: no token, no certificate key.
func TestGoldenRedacted(t *testing.T) {
	for name := range inventories {
		inv := loadInventory(t, name)
		for _, c := range renderCases(inv) {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				got, err := c.render(inv, Secrets{}.Redacted())
				if err != nil {
					t.Fatal(err)
				}
				for _, secret := range []string{testSecrets.Token, testSecrets.CertificateKey} {
					if bytes.Contains(got, []byte(secret)) {
						t.Errorf("redacted rendering carries a secret")
					}
				}
				if !bytes.Contains(got, []byte(step.Redacted)) {
					t.Errorf("redacted rendering shows no %s", step.Redacted)
				}
				checkGolden(t, filepath.Join("testdata", "golden", name, "redacted", c.name+".yaml"), got)
			})
		}
	}
}

// TestAPIVersionShape: every accepted release renders v1beta4, with the
// kubelet's extra arguments as a list.
func TestAPIVersionShape(t *testing.T) {
	inv := loadInventory(t, "rachuna-net")
	m := inv.ControlPlanes()[0]
	kubeletArgs := `    - name: "node-ip"` + "\n" + `      value: "` + m.IP.String() + `"`
	for _, version := range supportedVersions() {
		got, err := InitConfig(withVersion(inv, version), m, testSecrets)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(got), "apiVersion: "+APIVersion+"\n"); n != 2 {
			t.Errorf("%s: %d documents of %s, want 2", version, n, APIVersion)
		}
		if !strings.Contains(string(got), "  kubeletExtraArgs:\n"+kubeletArgs+"\n") {
			t.Errorf("%s: kubeletExtraArgs not in the v1beta4 shape:\n%s", version, got)
		}
		if !strings.Contains(string(got), "kubernetesVersion: \"v"+version+"\"\n") {
			t.Errorf("%s: no kubernetesVersion v%s:\n%s", version, version, got)
		}
	}
}

func TestVersionRange(t *testing.T) {
	for _, tc := range []struct {
		version, want string
	}{
		{"1.34.2", ""},
		{"1.35.0", ""},
		{"v1.36.1", ""},
		{"1.37.2", ""},
		{"1.33.10", `kubernetes.version: Kubernetes 1.33.10 is not accepted: homelab accepts Kubernetes 1.35, 1.36 and 1.37 (supported upstream) and 1.34 (end of life since 2026-10-27, with a warning)`},
		{"1.31.4", `Kubernetes 1.31.4 is not accepted`},
		{"1.38.0", `Kubernetes 1.38.0 is not accepted`},
		{"2.35.0", `Kubernetes 2.35.0 is not accepted`},
		{"1.35", `kubernetes.version: "1.35" is not a Kubernetes release such as 1.35.4 or v1.35.4`},
		{"1.35.04", `is not a Kubernetes release`},
		{"latest", `is not a Kubernetes release`},
	} {
		v, err := ParseVersion(tc.version)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.version, err)
		case tc.want == "" && v.Bare() != strings.TrimPrefix(tc.version, "v"):
			t.Errorf("%s: parsed as %s", tc.version, v)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.version, err, tc.want)
		}
	}
	inv := withVersion(loadInventory(t, "small"), "1.38.0")
	_, err := InitConfig(inv, inv.ControlPlanes()[0], testSecrets)
	if err == nil || !strings.Contains(err.Error(), "kubeadm init configuration for master-1: kubernetes.version") {
		t.Errorf("InitConfig with 1.38.0: error %v", err)
	}
}

// TestVAndBareRenderTheSame: kubernetes.version v1.36.1 and 1.36.1 are one
// release, so every file and plan field is the same for both.
func TestVAndBareRenderTheSame(t *testing.T) {
	base := loadInventory(t, "rachuna-net")
	withV, bare := withVersion(base, "v1.36.1"), withVersion(base, "1.36.1")
	for _, c := range renderCases(bare) {
		a, err1 := c.render(withV, testSecrets)
		b, err2 := c.render(bare, testSecrets)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: v1.36.1 and 1.36.1 render differently (%v, %v)", c.name, err1, err2)
		}
	}
	s1, err1 := Phase{}.Steps(withV)
	s2, err2 := Phase{}.Steps(bare)
	if err1 != nil || err2 != nil || len(s1) != len(s2) {
		t.Fatalf("Steps: %d (%v) and %d (%v) steps", len(s1), err1, len(s2), err2)
	}
	for i := range s1 {
		if s1[i].Description != s2[i].Description || fmt.Sprint(s1[i].Intent.Fields) != fmt.Sprint(s2[i].Intent.Fields) {
			t.Errorf("step %s: %q %v, want %q %v", s1[i].ID, s1[i].Description, s1[i].Intent.Fields, s2[i].Description, s2[i].Intent.Fields)
		}
	}
}

func TestSecretsChecked(t *testing.T) {
	inv := loadInventory(t, "rachuna-net")
	m, w := inv.ControlPlanes()[1], inv.Workers()[0]
	bad := []struct {
		name string
		s    Secrets
		want string
	}{
		{"short token", Secrets{Token: "abc.def", CertificateKey: testSecrets.CertificateKey, CACertHash: testSecrets.CACertHash}, "bootstrap token"},
		{"upper key", Secrets{Token: testSecrets.Token, CertificateKey: strings.ToUpper(testSecrets.CertificateKey), CACertHash: testSecrets.CACertHash}, "certificate key"},
		{"no hash", Secrets{Token: testSecrets.Token, CertificateKey: testSecrets.CertificateKey}, "CA certificate hash"},
	}
	for _, tc := range bad {
		_, err := JoinConfig(inv, m, true, tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one about the %s", tc.name, err, tc.want)
		}
	}
	// A worker needs no certificate key, and a plan needs no CA hash yet.
	if _, err := JoinConfig(inv, w, false, Secrets{Token: testSecrets.Token, CACertHash: testSecrets.CACertHash}); err != nil {
		t.Errorf("worker join without a certificate key: %v", err)
	}
	got, err := JoinConfig(inv, w, false, Secrets{}.Redacted())
	if err != nil || !bytes.Contains(got, []byte(PendingCACertHash)) {
		t.Errorf("redacted worker join: %v\n%s", err, got)
	}
	if got, _ := JoinConfig(inv, w, false, testSecrets); bytes.Contains(got, []byte(testSecrets.CertificateKey)) {
		t.Errorf("a worker's join configuration carries the certificate key")
	}
}

// TestQuoted proves a value cannot change the document's structure.
func TestQuoted(t *testing.T) {
	inv := loadInventory(t, "small")
	m := *inv.ControlPlanes()[0]
	m.Name = "evil\"\n  injected: true"
	got, err := InitConfig(inv, &m, testSecrets)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `  name: "evil\"\n  injected: true"`) {
		t.Errorf("name not quoted:\n%s", got)
	}
}

// TestCACertHash: the pin is sha256 over the certificate's public key info
// (kubeadm's pubkeypin.Hash); anything but a PEM certificate is an error.
func TestCACertHash(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	got, err := CACertHash(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if want := "sha256:" + hex.EncodeToString(sum[:]); err != nil || got != want {
		t.Errorf("CACertHash = %q, %v; want %q", got, err, want)
	}
	for _, bad := range [][]byte{nil, []byte("not pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})} {
		if _, err := CACertHash(bad); err == nil {
			t.Errorf("CACertHash(%q) is not an error", bad)
		}
	}
}

// TestIgnoreSystemVerification: from 1.35 kubeadm's SystemVerification
// fails on a cgroup v1 node even with failCgroupV1 false, so an inventory
// that sets kubelet.fail_cgroup_v1 false (its opt-in to cgroup v1) has
// every node's init and join configuration ignore that check; otherwise
// nothing is ignored.
func TestIgnoreSystemVerification(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		version string
		fail    *bool
		ignores bool
	}{
		{"1.37.2", &no, true},
		{"1.35.4", &no, true},
		{"1.37.2", nil, false},
		{"1.37.2", &yes, false},
		{"1.34.2", &no, false},
		{"1.34.2", nil, false},
	} {
		for name := range inventories {
			inv := withVersion(loadInventory(t, name), tc.version)
			inv.Kubernetes.Kubelet.FailCgroupV1 = tc.fail
			for _, c := range renderCases(inv) {
				t.Run(fmt.Sprintf("%s/%s/%s/fail_cgroup_v1=%s", tc.version, name, c.name, showBool(tc.fail)), func(t *testing.T) {
					got, err := c.render(inv, testSecrets)
					if err != nil {
						t.Fatal(err)
					}
					want := "  criSocket: \"unix:///var/run/containerd/containerd.sock\"\n  ignorePreflightErrors:\n    - \"SystemVerification\"\n  kubeletExtraArgs:\n"
					if has := bytes.Contains(got, []byte(want)); has != tc.ignores {
						t.Errorf("ignores SystemVerification %t, want %t:\n%s", has, tc.ignores, got)
					}
					if !tc.ignores && bytes.Contains(got, []byte("ignorePreflightErrors")) {
						t.Errorf("ignores a check:\n%s", got)
					}
				})
			}
		}
	}
}

// TestGoldenCgroupV1 renders each inventory at 1.37.2 with
// kubelet.fail_cgroup_v1 false: failCgroupV1: false and SystemVerification
// ignored on every node.
func TestGoldenCgroupV1(t *testing.T) {
	no := false
	for name := range inventories {
		inv := withVersion(loadInventory(t, name), "1.37.2")
		inv.Kubernetes.Kubelet.FailCgroupV1 = &no
		for _, c := range renderCases(inv) {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				got, err := c.render(inv, testSecrets)
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, filepath.Join("testdata", "golden", name, "cgroupv1", c.name+".yaml"), got)
			})
		}
	}
}
