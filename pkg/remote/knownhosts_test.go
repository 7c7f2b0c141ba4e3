package remote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/homelabctl/homelab/pkg/remote"
)

// TestForgetHostKeys removes a host's lines, and only its: other hosts,
// comments, a shared line's other names and the file's mode stay.
func TestForgetHostKeys(t *testing.T) {
	k1, k2 := newKey(t).PublicKey(), newKey(t).PublicKey()
	file := filepath.Join(t.TempDir(), "known_hosts")
	lines := []string{
		"# a comment",
		knownhosts.Line([]string{"10.0.0.5:2222"}, k1),
		knownhosts.Line([]string{"10.0.0.6"}, k2),
		knownhosts.Line([]string{"10.0.0.5:2222", "lb-1.lab"}, k2),
		"# homelab: expect [10.0.0.5]:2222 SHA256:abc from the create task log",
		knownhosts.Line([]string{knownhosts.HashHostname("[10.0.0.5]:2222")}, k1),
		knownhosts.Line([]string{"a.lab", "10.0.0.5:2222", "b.lab"}, k1),
		knownhosts.Line([]string{"c.lab", "10.0.0.5:2222"}, k2),
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newPool(t, remote.Options{})
	n, err := p.ForgetHostKeys(file, "10.0.0.5:2222")
	if err != nil || n != 6 {
		t.Fatalf("ForgetHostKeys = %d, %v", n, err)
	}
	b, _ := os.ReadFile(file)
	want := strings.Join([]string{lines[0], lines[2], knownhosts.Line([]string{"lb-1.lab"}, k2),
		knownhosts.Line([]string{"a.lab", "b.lab"}, k1), knownhosts.Line([]string{"c.lab"}, k2)}, "\n") + "\n"
	if string(b) != want {
		t.Errorf("after forget:\n%s\nwant:\n%s", b, want)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if n, err := p.ForgetHostKeys(file, "10.0.0.5:2222"); n != 0 || err != nil {
		t.Errorf("forget again: %d %v", n, err)
	}
	if n, err := p.ForgetHostKeys(filepath.Join(t.TempDir(), "none"), "10.0.0.5"); n != 0 || err != nil {
		t.Errorf("forget in a missing file: %d %v", n, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// TestExpectedHostKey: a host whose fingerprint was learned through an
// authenticated channel is trusted on its first connection with a note
// saying so (its line written, the expectation gone); another key is
// refused, naming both fingerprints.
func TestExpectedHostKey(t *testing.T) {
	l := newLab(t, nil)
	cfg := l.config(t)
	file := cfg.HostKeys.TOFUFile
	p := newPool(t, remote.Options{})
	fp := ssh.FingerprintSHA256(l.srv.HostKey())
	if err := p.ExpectHostKeys(file, cfg.Address, []string{"SHA256:other", fp}, "the create task log of CT 105"); err != nil {
		t.Fatal(err)
	}
	note, err := p.CheckHostKey(context.Background(), cfg)
	if err != nil || note != "host key "+fp+" of lb-1 matches the create task log of CT 105" {
		t.Fatalf("CheckHostKey = %q, %v", note, err)
	}
	b, _ := os.ReadFile(file)
	if strings.TrimSpace(string(b)) != knownhosts.Line([]string{cfg.Address}, l.srv.HostKey()) {
		t.Errorf("known_hosts = %q", b)
	}
	if note, err := p.CheckHostKey(context.Background(), cfg); note != "" || err != nil {
		t.Errorf("a known host: %q %v", note, err)
	}
	if log := l.srv.Log(); len(log) != 0 {
		t.Errorf("the key check ran commands: %v", log)
	}

	// Expected another key: refused with both fingerprints.
	if err := p.ExpectHostKeys(file, cfg.Address, []string{"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "the create task log"); err != nil {
		t.Fatal(err)
	}
	_, err = newPool(t, remote.Options{}).CheckHostKey(context.Background(), cfg)
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || !hk.Changed || !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") {
		t.Errorf("an unexpected key: %v", err)
	}
}

// TestStrictHostKeys: strict mode trusts nothing on first use, but a key
// recorded beforehand (AddHostKey) is trusted.
func TestStrictHostKeys(t *testing.T) {
	l := newLab(t, nil)
	cfg := l.config(t)
	cfg.HostKeys.Strict = true
	p := newPool(t, remote.Options{})
	_, err := host(t, p, cfg).Run(context.Background(), remote.Command{Script: "true"})
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || !hk.Strict || hk.Changed || !strings.Contains(err.Error(), "trusts nothing on first use") {
		t.Fatalf("strict, unknown host: %v", err)
	}
	if _, err := os.Stat(cfg.HostKeys.TOFUFile); err == nil {
		if b, _ := os.ReadFile(cfg.HostKeys.TOFUFile); len(b) > 0 {
			t.Errorf("strict mode recorded a key: %q", b)
		}
	}
	if err := p.AddHostKey(cfg.HostKeys.TOFUFile, cfg.Address, l.srv.HostKey()); err != nil {
		t.Fatal(err)
	}
	run(t, host(t, p, cfg), "true")
}

// TestTrustOnFirstUseNote: an unknown host's key is trusted on first use
// and the check says so.
func TestTrustOnFirstUseNote(t *testing.T) {
	l := newLab(t, nil)
	cfg := l.config(t)
	note, err := newPool(t, remote.Options{}).CheckHostKey(context.Background(), cfg)
	if want := "trusting host key " + ssh.FingerprintSHA256(l.srv.HostKey()) + " of lb-1 on first use"; err != nil || note != want {
		t.Fatalf("CheckHostKey = %q, %v; want %q", note, err, want)
	}
}

// TestUnknownHostWithoutParse: a host the file cannot know is trusted on
// first use as when the file is parsed, and a file that could know it (its
// address, a hashed name, a pattern, a revoked key) is still checked: a
// revoked key is refused whatever the other lines.
func TestUnknownHostWithoutParse(t *testing.T) {
	l := newLab(t, nil)
	other := newKey(t).PublicKey()
	cases := []struct {
		name    string
		lines   []string
		refused bool
	}{
		{"other hosts only", []string{knownhosts.Line([]string{"10.9.9.9"}, other), knownhosts.Line([]string{"[10.9.9.8]:2222"}, other)}, false},
		{"a hashed other host", []string{knownhosts.Line([]string{knownhosts.HashHostname("10.9.9.9")}, other)}, false},
		{"its address with another key", []string{knownhosts.Line([]string{l.srv.Addr()}, other)}, true},
		{"its key revoked", []string{"@revoked * " + string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(l.srv.HostKey())))}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(file, []byte(strings.Join(c.lines, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			p := newPool(t, remote.Options{})
			cfg := l.config(t)
			cfg.HostKeys.TOFUFile = file
			_, err := p.CheckHostKey(context.Background(), cfg)
			if c.refused != (err != nil) {
				t.Fatalf("refused %v, want %v: %v", err != nil, c.refused, err)
			}
			b, _ := os.ReadFile(file)
			if trusted := strings.Count(string(b), "\n") == len(c.lines)+1; trusted == c.refused {
				t.Errorf("file after the check:\n%s", b)
			}
		})
	}
}
