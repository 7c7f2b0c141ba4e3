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
// a bare host reaches it; the host has what real Kubernetes needs (its own
// cgroup namespace and cgroups, the kubelet's global sysctls shadowed,
// containerd/etcd state off the overlay, the lab's hosts and resolver,
// ip_forward); Close leaves nothing behind: the machine's sysctls,
// cgroups, iptables, links, routes and mounts are as before.
func TestLab(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv("HOMELAB_REQUIRE_LAB") == "1" {
			t.Fatalf("lab required: %v", err)
		}
		t.Skipf("no lab here: %v", err)
	}
	ctx := context.Background()
	hold := exclusiveLab(t)
	before := machineBaseline(t)
	l, err := Start(ctx, Options{Prefix: "hlt", Hold: hold, Hosts: []HostSpec{{Name: "node1"}, {Name: "client", Bare: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	node := l.Host("node1")
	out, err := l.Exec(ctx, "node1", "systemctl", "is-system-running", "--wait")
	if state := strings.TrimSpace(string(out)); state != "running" {
		failed, _ := l.Exec(ctx, "node1", "systemctl", "--failed", "--no-legend")
		t.Fatalf("systemd: %q %v; failed units:\n%s", state, err, failed)
	}
	checkKubernetesReady(t, l, "node1")

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
	for _, dir := range node.Cgroups {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left after Close: %v", dir, err)
		}
	}
	assertUnchanged(t, before)
}

// checkKubernetesReady checks, inside a full host, what research/lab.md
// lists as what real Kubernetes needs of a lab host.
func checkKubernetesReady(t *testing.T, l *Lab, host string) {
	t.Helper()
	ctx := context.Background()
	h := l.Host(host)
	if len(h.Cgroups) == 0 {
		t.Fatal("the host has no cgroups of its own")
	}
	sh := func(script string) string {
		t.Helper()
		out, err := l.Exec(ctx, host, "bash", "-c", script)
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		return strings.TrimSpace(string(out))
	}
	// Its cgroup namespace is rooted at its own cgroup: its PID 1 is at
	// (or under) / in every hierarchy, and the machine sees it under
	// lab-<ns>.
	if got := sh("cat /proc/1/cgroup; ls /sys/fs/cgroup"); strings.Contains(got, "lab-") || strings.Contains(got, "process_api") || !strings.Contains(got, ":memory:/") || !strings.Contains(got, "\ncpuset\n") || !strings.Contains(got, "\nsystemd\n") {
		t.Errorf("cgroups inside the host:\n%s", got)
	}
	for _, dir := range h.Cgroups {
		if !strings.Contains(dir, "/lab-"+h.NS) {
			t.Errorf("host cgroup %s", dir)
		}
	}
	if b, err := os.ReadFile(h.Cgroups[0] + "/cgroup.procs"); err != nil || len(strings.Fields(string(b))) == 0 {
		t.Errorf("no process in %s: %q %v", h.Cgroups[0], b, err)
	}
	// The kubelet's global sysctls read as it wants them inside; writing
	// one reaches only the file bound over it.
	for k, want := range ShadowedSysctls() {
		path := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if got := sh("cat " + path); got != want {
			t.Errorf("%s inside the host = %q, want %q", k, got, want)
		}
	}
	machine, _ := os.ReadFile("/proc/sys/vm/overcommit_memory")
	sh("echo 2 > /proc/sys/vm/overcommit_memory")
	if now, _ := os.ReadFile("/proc/sys/vm/overcommit_memory"); string(now) != string(machine) {
		t.Errorf("a write inside the host changed the machine's vm.overcommit_memory: %q -> %q", machine, now)
	}
	if got := sh("cat /proc/sys/net/ipv4/ip_forward"); got != "1" {
		t.Errorf("ip_forward inside the host = %s", got)
	}
	for _, d := range []string{"/var/lib/containerd", "/var/lib/etcd"} {
		if got := sh("stat -f -c %T " + d); got == "overlayfs" || got == "tmpfs" {
			t.Errorf("%s is on %s", d, got)
		}
	}
	if got := sh("getent hosts " + host + "; cat /etc/resolv.conf"); !strings.Contains(got, h.IP.String()) || !strings.Contains(got, "nameserver "+l.opts.Subnet.Addr().Next().Next().String()) {
		t.Errorf("hosts/resolv.conf:\n%s", got)
	}
}
