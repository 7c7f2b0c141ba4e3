package host_test

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// newHost returns a host of a fresh lab: lb-1 at 10.0.0.11/24 with the
// login user debian (passwordless sudo) and alice (no sudo).
func newHost(t *testing.T, opts host.LabOptions, packages ...string) (*host.Lab, *host.Host) {
	t.Helper()
	if opts.VRRPScale == 0 {
		opts.VRRPScale = 0.02
	}
	lab, err := host.NewLab(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	h, err := lab.Add(host.Spec{Name: "lb-1", Address: netip.MustParsePrefix("10.0.0.11/24"),
		Gateway: netip.MustParseAddr("10.0.0.1"), Users: []string{"debian"}, Packages: packages})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, stderr := run(h, "root", "useradd -m -s /bin/bash alice"); st != 0 {
		t.Fatalf("useradd alice: %d %s", st, stderr)
	}
	return lab, h
}

// run runs a command line on h as user would over SSH.
func run(h *host.Host, user, cmd string) (status int, stdout, stderr string) {
	var out, errb bytes.Buffer
	status = h.Run(context.Background(), user, cmd, nil, &out, &errb)
	return status, out.String(), errb.String()
}

// cmdCase is a command line and what it must give: the exit status, and
// stdout and stderr (exactly, or containing the text after "~").
type cmdCase struct {
	user, cmd      string
	status         int
	stdout, stderr string
}

func (c cmdCase) check(t *testing.T, h *host.Host) {
	t.Helper()
	user := c.user
	if user == "" {
		user = "root"
	}
	status, stdout, stderr := run(h, user, c.cmd)
	match := func(got, want string) bool {
		if w, ok := strings.CutPrefix(want, "~"); ok {
			return strings.Contains(got, w)
		}
		return got == want
	}
	if status != c.status || !match(stdout, c.stdout) || !match(stderr, c.stderr) {
		t.Errorf("%s$ %s\n  got  %d %q %q\n  want %d %q %q", user, c.cmd, status, stdout, stderr, c.status, c.stdout, c.stderr)
	}
}

// The coreutils-ish programs answer as Debian's: output, exit status and
// error words.
func TestFileCommands(t *testing.T) {
	_, h := newHost(t, host.LabOptions{})
	for _, c := range []cmdCase{
		{cmd: "cat /etc/hostname", stdout: "lb-1\n"},
		{cmd: "cat /nope", status: 1, stderr: "cat: /nope: No such file or directory\n"},
		{cmd: "cat /etc", status: 1, stderr: "cat: /etc: Is a directory\n"},
		{cmd: "echo a  b; printf '%s-%d\\n' x 3", stdout: "a b\nx-3\n"},
		{cmd: "test -f /etc/passwd && [ -d /etc ] && ! test -e /nope && echo yes", stdout: "yes\n"},
		{cmd: "mkdir -p /tmp/a/b && test -d /tmp/a/b", stdout: ""},
		{cmd: "mkdir /tmp/x/y", status: 1, stderr: "mkdir: cannot create directory ‘/tmp/x/y’: No such file or directory\n"},
		{cmd: "mkdir /tmp", status: 1, stderr: "mkdir: cannot create directory ‘/tmp’: File exists\n"},
		{cmd: "rm /nope", status: 1, stderr: "rm: cannot remove '/nope': No such file or directory\n"},
		{cmd: "rm -f /nope /tmp/nope*", stdout: ""},
		{cmd: "echo hi > /tmp/f && cp /tmp/f /tmp/g && mv -f /tmp/g /tmp/h && cat /tmp/h && test ! -e /tmp/g", stdout: "hi\n"},
		{cmd: "mv /tmp/nope /tmp/x", status: 1, stderr: "mv: cannot stat '/tmp/nope': No such file or directory\n"},
		{cmd: "chmod 600 /tmp/f && stat -c '%a %U %G %s %n' /tmp/f", stdout: "600 root root 3 /tmp/f\n"},
		{cmd: "chmod u+x,go-rwx /tmp/h && stat -c %a /tmp/h", stdout: "700\n"},
		{cmd: "stat -c %a /nope", status: 1, stderr: "stat: cannot statx '/nope': No such file or directory\n"},
		{cmd: "install -m 0640 -o nosuch /tmp/f /tmp/i", status: 1, stderr: "install: invalid user: ‘nosuch’\n"},
		{cmd: "install -m 0640 -o debian -g debian /tmp/f /tmp/i && stat -c '%a %U %G' /tmp/i", stdout: "640 debian debian\n"},
		{cmd: "chown alice:alice /tmp/f && stat -c '%U %G' /tmp/f", stdout: "alice alice\n"},
		{cmd: "printf abc > /tmp/abc && sha256sum /tmp/abc", stdout: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  /tmp/abc\n"},
		{cmd: "sha256sum /nope", status: 1, stderr: "sha256sum: /nope: No such file or directory\n"},
		{cmd: "echo x | tee /tmp/t >/dev/null && cat /tmp/t && head -n 1 /etc/passwd", stdout: "x\nroot:x:0:0:root:/root:/bin/bash\n"},
		{cmd: "grep -c '^root:' /etc/passwd; grep -q nomatch /etc/passwd", status: 1, stdout: "1\n"},
		{cmd: "grep -E 'lb-[0-9]+' /etc/hostname", stdout: "lb-1\n"},
		{cmd: "cp /etc/hostname /tmp/hn && sed -i 's/lb-\\([0-9]\\)/node-\\1/' /tmp/hn && cat /tmp/hn", stdout: "node-1\n"},
		{cmd: "sed -n '/^root/p' /etc/passwd", stdout: "root:x:0:0:root:/root:/bin/bash\n"},
		{cmd: "hostname; whoami; true; false", status: 1, stdout: "lb-1\nroot\n"},
		{cmd: "sleep 0.01 && echo slept", stdout: "slept\n"},
		{cmd: "ls /etc/sudoers.d", stdout: "90-cloud-init-users\n"},
		{cmd: "env -i FOO=bar /usr/bin/env", stdout: "FOO=bar\n"},
	} {
		c.check(t, h)
	}
}

// Users, sudo and permissions: a login user may write in /tmp and its
// home, not in /etc; sudo (for users that have it) runs as root.
func TestUsersAndPermissions(t *testing.T) {
	_, h := newHost(t, host.LabOptions{})
	for _, c := range []cmdCase{
		{cmd: "id -u root; id -u debian; id -un", stdout: "0\n1000\nroot\n"},
		{cmd: "id -u nobodyx", status: 1, stderr: "id: ‘nobodyx’: no such user\n"},
		{cmd: "useradd -r -M -s /usr/sbin/nologin svc && id -u svc", stdout: "999\n"},
		{cmd: "useradd -r svc", status: 9, stderr: "useradd: user 'svc' already exists\n"},
		{user: "debian", cmd: "useradd x", status: 127, stderr: "bash: line 1: useradd: command not found\n"},
		{user: "debian", cmd: "/usr/sbin/useradd x", status: 1, stderr: "useradd: Permission denied.\nuseradd: cannot lock /etc/passwd; try again later.\n"},
		{user: "debian", cmd: "id -u; echo $HOME; pwd", stdout: "1000\n/home/debian\n/home/debian\n"},
		{user: "debian", cmd: "echo x > /tmp/mine && stat -c %U /tmp/mine && echo y > ~/f && cat ~/f", stdout: "debian\ny\n"},
		{user: "debian", cmd: "echo x > /etc/x", status: 1, stderr: "bash: line 1: /etc/x: Permission denied\n"},
		{user: "debian", cmd: "sh -c 'echo x > /etc/x'", status: 1, stderr: "sh: 1: cannot create /etc/x: Permission denied\n"},
		{user: "debian", cmd: "cat /etc/sudoers.d/90-cloud-init-users", status: 1, stderr: "cat: /etc/sudoers.d/90-cloud-init-users: Permission denied\n"},
		{user: "debian", cmd: "mkdir /etc/foo", status: 1, stderr: "mkdir: cannot create directory ‘/etc/foo’: Permission denied\n"},
		{user: "debian", cmd: "chown debian /etc/hostname", status: 1, stderr: "chown: changing ownership of '/etc/hostname': Operation not permitted\n"},
		{user: "debian", cmd: "sudo -n sh -c 'id -u; echo $HOME; echo $SUDO_USER'", stdout: "0\n/root\ndebian\n"},
		{user: "debian", cmd: "sudo -n cat /etc/sudoers.d/90-cloud-init-users", stdout: "debian ALL=(ALL) NOPASSWD:ALL\n"},
		{user: "debian", cmd: "sudo -n nosuch", status: 1, stderr: "sudo: nosuch: command not found\n"},
		{user: "alice", cmd: "sudo -n true", status: 1, stderr: "sudo: a password is required\n"},
		{user: "debian", cmd: "systemctl restart ssh", status: 1, stderr: "~Interactive authentication required."},
		{user: "debian", cmd: "apt-get install -y curl", status: 100, stderr: "~E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)"},
		{user: "debian", cmd: "/usr/sbin/sysctl -w net.ipv4.ip_forward=1", status: 255, stderr: "sysctl: permission denied on key \"net.ipv4.ip_forward\"\n"},
	} {
		c.check(t, h)
	}
}

// Commands that are not there fail as the shell that looked for them
// says: dash, bash or sudo.
func TestNotFound(t *testing.T) {
	_, h := newHost(t, host.LabOptions{})
	for _, c := range []cmdCase{
		{cmd: "nosuch", status: 127, stderr: "bash: line 1: nosuch: command not found\n"},
		{cmd: "sh -c 'true; nosuch'", status: 127, stderr: "sh: 1: nosuch: not found\n"},
		{cmd: "sh -c 'true\nnosuch'", status: 127, stderr: "sh: 2: nosuch: not found\n"},
		{cmd: "sh -c 'haproxy -v'", status: 127, stderr: "sh: 1: haproxy: not found\n"},
		{cmd: "/usr/sbin/haproxy -c -f /x", status: 127, stderr: "bash: line 1: /usr/sbin/haproxy: No such file or directory\n"},
		{cmd: "sh -c '/usr/sbin/keepalived -t'", status: 127, stderr: "sh: 1: /usr/sbin/keepalived: not found\n"},
		{cmd: "command -v socat || echo none; command -v apt-get; command -v cd", stdout: "none\n/usr/bin/apt-get\ncd\n"},
		{cmd: "type ip", stdout: "ip is /usr/bin/ip\n"},
		{cmd: "kill 1", status: 1, stderr: "bash: line 1: kill: No such process\n"},
	} {
		c.check(t, h)
	}
}

// dpkg-query and apt-get over the host's package database.
func TestPackages(t *testing.T) {
	_, h := newHost(t, host.LabOptions{})
	query := "dpkg-query -W -f '${Package} ${db:Status-Status}\\n' haproxy keepalived curl"
	for _, c := range []cmdCase{
		{cmd: query, status: 1, stderr: "dpkg-query: no packages found matching haproxy\ndpkg-query: no packages found matching keepalived\ndpkg-query: no packages found matching curl\n"},
		{cmd: "dpkg-query -W bash", stdout: "bash\t5.2.15-2+b7\n"},
		{cmd: "apt-get install -y haproxy nosuchpkg", status: 100, stdout: "~Reading package lists...", stderr: "E: Unable to locate package nosuchpkg\n"},
		{cmd: "dpkg -s haproxy", status: 1, stderr: "dpkg-query: package 'haproxy' is not installed and no information is available\n"},
		{cmd: "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy keepalived curl",
			stdout: "~The following NEW packages will be installed:\n  curl haproxy keepalived\n0 upgraded, 3 newly installed"},
		{cmd: query, stdout: "haproxy installed\nkeepalived installed\ncurl installed\n"},
		{cmd: "apt-get install -y curl", stdout: "~curl is already the newest version (7.88.1-10+deb12u8).\n0 upgraded, 0 newly installed"},
		{cmd: "apt-get install -y curl=1.0", status: 100, stdout: "~Reading package lists...", stderr: "E: Version '1.0' for 'curl' was not found\n"},
		{cmd: "test -x /usr/sbin/haproxy && id -u haproxy >/dev/null && test -f /etc/haproxy/haproxy.cfg && echo ok", stdout: "ok\n"},
		// Debian starts HAProxy with its default config; keepalived waits
		// for a config (ConditionFileNotEmpty).
		{cmd: "systemctl is-active haproxy keepalived", status: 3, stdout: "active\ninactive\n"},
		{cmd: "systemctl is-enabled haproxy.service", stdout: "enabled\n"},
		{cmd: "systemctl start keepalived && systemctl is-active keepalived", status: 3, stdout: "inactive\n"},
	} {
		c.check(t, h)
	}
	if !h.Installed("haproxy") || !h.Unit("haproxy").Active || h.Unit("keepalived").Active {
		t.Errorf("after the install: %v %+v %+v", h.Installed("haproxy"), h.Unit("haproxy"), h.Unit("keepalived"))
	}
}

// systemctl: unit verbs, unknown units, the warning for changed drop-ins.
func TestSystemctl(t *testing.T) {
	_, h := newHost(t, host.LabOptions{}, "haproxy", "keepalived")
	for _, c := range []cmdCase{
		{cmd: "systemctl is-active nope.service", status: 3, stdout: "inactive\n"},
		{cmd: "systemctl start nope", status: 5, stderr: "Failed to start nope.service: Unit nope.service not found.\n"},
		{cmd: "systemctl enable nope", status: 1, stderr: "Failed to enable unit: Unit file nope.service does not exist.\n"},
		{cmd: "systemctl status nope", status: 4, stderr: "Unit nope.service could not be found.\n"},
		{cmd: "systemctl is-system-running", stdout: "running\n"},
		{cmd: "systemctl stop haproxy && systemctl is-active haproxy", status: 3, stdout: "inactive\n"},
		{cmd: "systemctl reload haproxy", status: 1, stderr: "haproxy.service is not active, cannot reload.\n"},
		{cmd: "systemctl enable haproxy.service >/dev/null 2>&1; systemctl restart haproxy.service && systemctl is-active haproxy", stdout: "active\n"},
		{cmd: "systemctl disable cron", stderr: "~Executing: /lib/systemd/systemd-sysv-install disable cron\n"},
		{cmd: "mkdir -p /etc/systemd/system/keepalived.service.d && echo '[Unit]' > /etc/systemd/system/keepalived.service.d/x.conf && systemctl restart keepalived",
			stderr: "Warning: The unit file, source configuration file or drop-ins of keepalived.service changed on disk. Run 'systemctl daemon-reload' to reload units.\n"},
		{cmd: "systemctl daemon-reload && systemctl restart keepalived", stderr: ""},
	} {
		c.check(t, h)
	}
}
