package host_test

import (
	"context"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// cloudHost is a VM booted from a Debian 12 cloud image under PVE's
// cloud-init, with power the test switches (on at first).
func cloudHost(t *testing.T, upgrade bool, upgradeTime time.Duration) (*host.Lab, *host.Host, *atomic.Bool) {
	t.Helper()
	lab, err := host.NewLab(host.LabOptions{FirstBootUpgrade: upgradeTime})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	var on atomic.Bool
	on.Store(true)
	h, err := lab.Add(host.Spec{Name: "lb-1", Address: netip.MustParsePrefix("10.0.0.11/24"), Power: on.Load,
		CloudInit: func() host.CloudInit { return host.CloudInit{Upgrade: upgrade, FQDN: "lb-1.lab.example"} }})
	if err != nil {
		t.Fatal(err)
	}
	return lab, h, &on
}

// reboot switches h off, lets it see that (SSH refused), and on again.
func reboot(t *testing.T, lab *host.Lab, h *host.Host, on *atomic.Bool) {
	t.Helper()
	on.Store(false)
	if c, err := lab.Dial(context.Background(), "tcp", netip.AddrPortFrom(h.IP(), 22).String()); err == nil {
		c.Close()
		t.Fatal("a host that is off answers SSH")
	}
	on.Store(true)
}

// A cloud image's first boot without ciupgrade: cloud-init is done at
// once, the apt lists are empty (apt-get install fails as apt does) until
// apt-get update; a container (no cloud-init) keeps its lists.
func TestCloudImageHasEmptyAptLists(t *testing.T) {
	_, h, _ := cloudHost(t, false, 0)
	for _, c := range []cmdCase{
		{cmd: "cloud-init status --wait", stdout: "\nstatus: done\n"},
		{cmd: "ls /var/lib/apt/lists", stdout: ""},
		{cmd: "DEBIAN_FRONTEND=noninteractive apt-get install -y haproxy", status: 100, stdout: "~Reading state information...", stderr: "E: Unable to locate package haproxy\n"},
		{cmd: "apt-get install -y openssh-server", stdout: "~openssh-server is already the newest version"},
		{cmd: "apt-get update -q >/dev/null && apt-get install -y haproxy", stdout: "~Setting up haproxy (2.6.12-1+deb12u1) ..."},
		{cmd: "timeout 5 cloud-init status --wait --long", stdout: "~status: done\ndetail:\n"},
	} {
		c.check(t, h)
	}
	_, ct := newHost(t, host.LabOptions{})
	cmdCase{cmd: "apt-get install -y haproxy", stdout: "~Setting up haproxy"}.check(t, ct)
	cmdCase{cmd: "cloud-init status", status: 127, stderr: "~cloud-init: command not found"}.check(t, ct)
}

// With ciupgrade (PVE's default) the first boot's upgrade holds dpkg's
// lock after sshd answers: apt-get install fails with apt's words, or
// waits with -o DPkg::Lock::Timeout; cloud-init status --wait returns when
// it is done (timeout ends it earlier with 124); the upgrade's apt-get
// update filled the lists. The next boot does not upgrade again.
func TestCloudImageFirstBootUpgradeHoldsTheLock(t *testing.T) {
	lab, h, on := cloudHost(t, true, 1500*time.Millisecond)
	start := time.Now()
	cmdCase{cmd: "apt-get install -y haproxy", status: 100,
		stderr: "~E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process "}.check(t, h)
	cmdCase{cmd: "apt-get update", status: 100, stderr: "~E: Unable to lock directory /var/lib/apt/lists/"}.check(t, h)
	cmdCase{cmd: "cloud-init status", stdout: "status: running\n"}.check(t, h)
	cmdCase{cmd: "timeout 0.3 cloud-init status --wait", status: 124, stdout: "~."}.check(t, h)
	cmdCase{cmd: "apt-get -o DPkg::Lock::Timeout=30 install -y haproxy", stdout: "~Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend"}.check(t, h)
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("apt-get got the lock after %s, before the upgrade ended", waited)
	}
	cmdCase{cmd: "cloud-init status --wait", stdout: "\nstatus: done\n"}.check(t, h)
	if !h.Installed("haproxy") {
		t.Error("haproxy is not installed")
	}
	reboot(t, lab, h, on)
	cmdCase{cmd: "cloud-init status", stdout: "status: done\n"}.check(t, h)
	cmdCase{cmd: "apt-get install -y curl", stdout: "~Setting up curl"}.check(t, h)
}

// manage_etc_hosts: every boot renders /etc/hosts from cloud-init's
// template, dropping what was added to /etc/hosts and keeping what was
// added to the template.
func TestCloudImageRewritesEtcHostsAtBoot(t *testing.T) {
	lab, h, on := cloudHost(t, false, 0)
	want := "# Your system has configured 'manage_etc_hosts' as True.\n"
	status, hosts, _ := run(h, "root", "cat /etc/hosts")
	if status != 0 || !strings.HasPrefix(hosts, want) || !strings.Contains(hosts, "\n#\n127.0.1.1 lb-1.lab.example lb-1\n127.0.0.1 localhost\n") ||
		strings.Contains(hosts, "{") {
		t.Fatalf("/etc/hosts after the first boot:\n%s", hosts)
	}
	cmdCase{cmd: "echo '10.0.0.21 k8s-api.lab.example' >> /etc/hosts && echo '10.0.0.22 kept.lab.example' >> " + host.HostsTemplate}.check(t, h)
	reboot(t, lab, h, on)
	_, b, _ := run(h, "root", "cat /etc/hosts")
	if strings.Contains(string(b), "k8s-api") || !strings.HasSuffix(string(b), "ff02::2 ip6-allrouters\n10.0.0.22 kept.lab.example\n") {
		t.Errorf("/etc/hosts after a reboot:\n%s", b)
	}
}
