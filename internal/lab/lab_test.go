package lab

import (
	"context"
	"net"
	"os"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// A full host runs systemd and sshd and takes key logins over the bridge;
// a bare host reaches it; Close leaves nothing behind.
func TestLab(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv("HOMELAB_REQUIRE_LAB") == "1" {
			t.Fatalf("lab required: %v", err)
		}
		t.Skipf("no lab here: %v", err)
	}
	ctx := context.Background()
	l, err := Start(ctx, Options{Prefix: "hlt", Hosts: []HostSpec{{Name: "node1"}, {Name: "client", Bare: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	node := l.Host("node1")
	out, err := l.Exec(ctx, "node1", "systemctl", "is-system-running", "--wait")
	if state := strings.TrimSpace(string(out)); state != "running" && state != "degraded" {
		t.Fatalf("systemd: %q %v", state, err)
	}

	key, err := os.ReadFile(l.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort(node.IP.String(), "22"), &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // the test's own throwaway host
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh to the lab host: %v", err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Output("hostname; echo private > /etc/homelab-lab-test; cat /etc/homelab-lab-test")
	if err != nil || string(got) != "node1\nprivate\n" {
		t.Fatalf("ssh command: %q %v", got, err)
	}
	if _, err := os.Stat("/etc/homelab-lab-test"); err == nil {
		t.Fatal("a host's write reached the machine's /etc")
	}

	if out, err := l.Exec(ctx, "client", "bash", "-c", "exec 3<>/dev/tcp/"+node.IP.String()+"/22 && head -c 4 <&3"); err != nil || string(out) != "SSH-" {
		t.Fatalf("client to node1:22: %q %v", out, err)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out, err = osexec.Command("ip", "netns", "list").Output()
	if err != nil || strings.Contains(string(out), "hlt-") {
		t.Errorf("namespaces left after Close: %q %v", out, err)
	}
	if out, _ := osexec.Command("ip", "link", "show", "hltbr").CombinedOutput(); !strings.Contains(string(out), "does not exist") {
		t.Errorf("bridge left after Close: %s", out)
	}
}
