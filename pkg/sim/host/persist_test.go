package host_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// A lab opened again on the Dir of a closed one takes its hosts up as
// they were: files, packages, SSH host key, enabled units, file owners;
// the host boots, its enabled units start. A fresh host in the same Dir
// is seeded as ever.
func TestReopenedLabKeepsHosts(t *testing.T) {
	dir := t.TempDir()
	spec := host.Spec{Name: "lb-1", Address: netip.MustParsePrefix("10.0.0.11/24"),
		Gateway: netip.MustParseAddr("10.0.0.1"), Users: []string{"debian"}}
	lab, err := host.NewLab(host.LabOptions{Dir: dir, VRRPScale: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	h, err := lab.Add(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{
		"apt-get install -y haproxy",
		"systemctl disable cron",
		"echo hello > /home/debian/note && chown debian:debian /home/debian/note",
		"echo s > /tmp/s && install -o haproxy -g haproxy -m 0640 /tmp/s /etc/haproxy/secret",
	} {
		if st, _, stderr := run(h, "root", cmd); st != 0 {
			t.Fatalf("%s: %d %s", cmd, st, stderr)
		}
	}
	key := h.HostKey().Marshal()
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "lb-1", "etc", "haproxy", "haproxy.cfg")); err != nil {
		t.Fatalf("Close removed the host's files: %v", err)
	}

	lab, err = host.NewLab(host.LabOptions{Dir: dir, VRRPScale: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	h, err = lab.Add(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.HostKey().Marshal(), key) {
		t.Error("the host key changed")
	}
	if !h.Installed("haproxy") {
		t.Error("haproxy is not installed any more")
	}
	for _, c := range []cmdCase{
		{cmd: "systemctl is-enabled cron", status: 1, stdout: "disabled\n"},
		{cmd: "systemctl is-active haproxy", stdout: "active\n"},
		{cmd: "systemctl is-active ssh", stdout: "active\n"},
		{cmd: "stat -c %U:%G /home/debian/note /home/debian /etc/haproxy/secret", stdout: "debian:debian\ndebian:debian\nhaproxy:haproxy\n"},
		{cmd: "cat /home/debian/note", stdout: "hello\n"},
		{user: "debian", cmd: "cat /etc/ssh/ssh_host_ed25519_key", status: 1, stderr: "~Permission denied"},
	} {
		c.check(t, h)
	}

	// Another host in the same Dir is fresh; a root left half made (no
	// package database) is seeded again.
	if err := os.MkdirAll(filepath.Join(dir, "lb-2", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "lb-2", "etc", "junk"), []byte("x"), 0o644)
	h2, err := lab.Add(host.Spec{Name: "lb-2", Address: netip.MustParsePrefix("10.0.0.12/24")})
	if err != nil {
		t.Fatal(err)
	}
	if h2.Installed("haproxy") || bytes.Equal(h2.HostKey().Marshal(), key) {
		t.Error("a fresh host inherited another's state")
	}
	for _, c := range []cmdCase{
		{cmd: "test -e /etc/junk", status: 1},
		{cmd: "systemctl is-enabled cron", stdout: "enabled\n"},
		{cmd: "cat /etc/hostname", stdout: "lb-2\n"},
	} {
		c.check(t, h2)
	}
}
