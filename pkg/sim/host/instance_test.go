package host_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// instanceKey makes a guest instance's host key (PEM) and its public half.
func instanceKey(t *testing.T) ([]byte, ssh.PublicKey) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "root@lb-1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), signer.PublicKey()
}

// TestRecreatedGuestIsANewMachine: a host whose guest was destroyed and
// created again (another instance) powers on with a blank disk and the
// new instance's host key; one merely rebooted keeps both. LabOptions.
// Wiped hears of each blank disk, and of nothing else.
func TestRecreatedGuestIsANewMachine(t *testing.T) {
	var on atomic.Bool
	var mu sync.Mutex
	key, pub := instanceKey(t)
	id := "1111"
	var wiped atomic.Int32
	lab, err := host.NewLab(host.LabOptions{VRRPScale: 0.02, Wiped: func(h *host.Host) {
		if h.Name() == "lb-1" {
			wiped.Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	h, err := lab.Add(host.Spec{Name: "lb-1", Address: netip.MustParsePrefix("10.0.0.11/24"), Users: []string{"debian"},
		Power: on.Load, Instance: func() (string, []byte) {
			mu.Lock()
			defer mu.Unlock()
			return id, key
		}})
	if err != nil {
		t.Fatal(err)
	}
	on.Store(true)
	if st, _, stderr := run(h, "root", "apt-get install -y haproxy && echo kept > /root/state && systemctl enable haproxy"); st != 0 {
		t.Fatalf("setup: %d %s", st, stderr)
	}
	if !sameKey(h.HostKey(), pub) {
		t.Fatal("the host does not present its instance's host key")
	}
	if _, out, _ := run(h, "root", "cat /etc/machine-id"); strings.TrimSpace(out) != "1111" {
		t.Errorf("machine-id = %q", out)
	}

	// A reboot: same instance, same disk.
	on.Store(false)
	run(h, "root", "true")
	on.Store(true)
	if _, out, _ := run(h, "root", "cat /root/state"); out != "kept\n" || !h.Installed("haproxy") || !h.Unit("haproxy").Active {
		t.Errorf("after a reboot: state %q, haproxy installed %v, unit %+v", out, h.Installed("haproxy"), h.Unit("haproxy"))
	}
	if n := wiped.Load(); n != 1 {
		t.Errorf("after the first boot and a reboot, Wiped was called %d times, want 1", n)
	}

	// Destroyed and created again: a new instance.
	on.Store(false)
	run(h, "root", "true")
	newKey, newPub := instanceKey(t)
	mu.Lock()
	id, key = "2222", newKey
	mu.Unlock()
	on.Store(true)
	if st, out, _ := run(h, "root", "cat /root/state"); st == 0 {
		t.Errorf("the old disk survived a re-create: /root/state = %q", out)
	}
	if h.Installed("haproxy") || h.Unit("haproxy").Known {
		t.Error("the old disk's packages survived a re-create")
	}
	if !sameKey(h.HostKey(), newPub) || sameKey(h.HostKey(), pub) {
		t.Error("a re-created guest presents the old host key")
	}
	if _, out, _ := run(h, "root", "cat /etc/ssh/ssh_host_ed25519_key.pub"); !strings.HasPrefix(out, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(newPub)))) {
		t.Errorf("ssh_host_ed25519_key.pub = %q", out)
	}
	if st, _, stderr := run(h, "debian", "sudo true"); st != 0 {
		t.Errorf("the blank disk lacks the cloud image's user: %d %s", st, stderr)
	}
	if n := wiped.Load(); n != 2 {
		t.Errorf("after a re-create, Wiped was called %d times, want 2", n)
	}

	// Destroyed and created again while nobody looked at the host: it
	// went off and on meanwhile all the same.
	run(h, "root", "echo kept > /root/state")
	thirdKey, thirdPub := instanceKey(t)
	mu.Lock()
	id, key = "3333", thirdKey
	mu.Unlock()
	if st, _, _ := run(h, "root", "cat /root/state"); st == 0 || !sameKey(h.HostKey(), thirdPub) {
		t.Errorf("a guest re-created unseen kept its disk (cat exit %d) or its key", st)
	}
	if n := wiped.Load(); n != 3 {
		t.Errorf("after a re-create unseen, Wiped was called %d times, want 3", n)
	}
}

func sameKey(a, b ssh.PublicKey) bool {
	return a != nil && b != nil && string(a.Marshal()) == string(b.Marshal())
}
