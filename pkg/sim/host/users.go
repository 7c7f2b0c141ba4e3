package host

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// seed lays out a minimal Debian 12 root: the base system's packages (and
// their programs), accounts, network and host files.
func (h *Host) seed() error {
	for _, d := range []string{"/etc/sudoers.d", "/etc/sysctl.d", "/etc/systemd/system", "/etc/ssh",
		"/var/lib/dpkg", "/var/tmp", "/tmp", "/root", "/run", "/usr/bin", "/usr/sbin", "/usr/lib/systemd/system",
		"/home", "/var/log", "/etc/apt/sources.list.d", "/etc/apt/keyrings", "/var/lib/apt/lists"} {
		if err := os.MkdirAll(h.local("/", d), 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{"/tmp", "/var/tmp"} {
		if err := os.Chmod(h.local("/", d), 0o1777); err != nil {
			return err
		}
	}
	if err := os.Chmod(h.local("/", "/root"), 0o700); err != nil {
		return err
	}
	// Debian 12 merged /usr: /bin and /sbin are links into /usr.
	for _, l := range []string{"bin", "sbin", "lib"} {
		if l == "lib" {
			if err := os.MkdirAll(h.local("/", "/usr/lib"), 0o755); err != nil {
				return err
			}
		}
		if err := os.Symlink("usr/"+l, h.local("/", "/"+l)); err != nil {
			return err
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/bash\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
		"bin:x:2:2:bin:/bin:/usr/sbin/nologin\n" +
		"sys:x:3:3:sys:/dev:/usr/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" +
		"_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n" +
		"systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\n" +
		"messagebus:x:100:107::/nonexistent:/usr/sbin/nologin\n" +
		"sshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n"
	group := "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\nsudo:x:27:\nnogroup:x:65534:\n" +
		"systemd-network:x:998:\nmessagebus:x:107:\n"
	var sudoers strings.Builder
	for i, u := range h.spec.Users {
		uid := strconv.Itoa(1000 + i)
		passwd += fmt.Sprintf("%s:x:%s:%s:%s:/home/%s:/bin/bash\n", u, uid, uid, u, u)
		group += fmt.Sprintf("%s:x:%s:\n", u, uid)
		fmt.Fprintf(&sudoers, "%s ALL=(ALL) NOPASSWD:ALL\n", u)
		home := h.local("/", "/home/"+u)
		if err := os.MkdirAll(home, 0o755); err != nil {
			return err
		}
		if err := h.owners.SetOwner(home, u, u); err != nil {
			return err
		}
	}
	gw := ""
	if h.spec.Gateway.IsValid() {
		gw = h.spec.Gateway.String()
	}
	files := map[string]string{
		"/etc/passwd":   passwd,
		"/etc/group":    group,
		"/etc/hostname": h.spec.Name + "\n",
		"/etc/hosts": fmt.Sprintf("127.0.0.1\tlocalhost\n%s\t%s\n\n::1\tlocalhost ip6-localhost ip6-loopback\n",
			h.IP(), h.spec.Name),
		"/etc/os-release":                         osRelease,
		"/etc/debian_version":                     "12.8\n",
		"/etc/resolv.conf":                        "nameserver " + gw + "\n",
		"/etc/sudoers.d/90-cloud-init-users":      sudoers.String(),
		"/etc/sysctl.conf":                        "# /etc/sysctl.conf - Configuration file for setting system variables\n",
		"/var/lib/dpkg/status":                    "",
		"/etc/ssh/sshd_config.d/50-cloud.conf":    "PasswordAuthentication no\n",
		"/usr/lib/systemd/system/ssh.service":     "[Unit]\nDescription=OpenBSD Secure Shell server\n",
		"/usr/lib/systemd/system/cron.service":    "[Unit]\nDescription=Regular background program processing daemon\n",
		"/usr/lib/systemd/system/rsyslog.service": "[Unit]\nDescription=System Logging Service\n",
	}
	for p, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "/etc/sudoers.d/") {
			mode = 0o440
		}
		if err := h.writeFile(p, []byte(content), mode); err != nil {
			return err
		}
	}
	for _, p := range baseSystem() {
		if err := h.install(p); err != nil {
			return err
		}
	}
	// Debian's lists as a host that ran apt-get update has them (a cloud
	// image's first boot empties them: see cloudinit.go).
	h.writeMirrorLists()
	return h.seedKernel()
}

const osRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`

// idProgram is `id [-u|-g|-n] [USER]`.
func idProgram(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "ugnG", "", nil)
	if !ok {
		return 1
	}
	user := c.User
	if len(args) > 0 {
		user = args[0]
	}
	a, found := c.Host.account(user)
	if !found {
		fmt.Fprintf(c.Stderr, "id: ‘%s’: no such user\n", user)
		return 1
	}
	group := c.Host.groupName(a.gid)
	switch {
	case f.has('u') && f.has('n'):
		fmt.Fprintln(c.Stdout, a.name)
	case f.has('u'):
		fmt.Fprintln(c.Stdout, a.uid)
	case f.has('g') && f.has('n'):
		fmt.Fprintln(c.Stdout, group)
	case f.has('g'), f.has('G'):
		fmt.Fprintln(c.Stdout, a.gid)
	default:
		fmt.Fprintf(c.Stdout, "uid=%s(%s) gid=%s(%s) groups=%s(%s)\n", a.uid, a.name, a.gid, group, a.gid, group)
	}
	return 0
}

// groupName returns the name of the group gid.
func (h *Host) groupName(gid string) string {
	b, _ := h.readFile("/etc/group")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[2] == gid {
			return f[0]
		}
	}
	return gid
}

// usedIDs returns the user and group IDs taken.
func (h *Host) usedIDs() map[int]bool {
	used := map[int]bool{}
	for _, file := range []string{"/etc/passwd", "/etc/group"} {
		b, _ := h.readFile(file)
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Split(line, ":"); len(f) >= 3 {
				if n, err := strconv.Atoi(f[2]); err == nil {
					used[n] = true
				}
			}
		}
	}
	return used
}

// useradd [-r] [-m|-M] [-s SHELL] [-d HOME] [-u UID] NAME, with a group of
// the same name (Debian's USERGROUPS_ENAB).
func useradd(_ context.Context, c *Call) int {
	f, args, ok := parseFlags(c, c.Args[1:], "rmMsduUgGc", "sdugGc",
		map[string]byte{"system": 'r', "create-home": 'm', "no-create-home": 'M', "shell": 's', "home-dir": 'd', "uid": 'u', "comment": 'c'})
	if !ok {
		return 2
	}
	if len(args) != 1 {
		fmt.Fprintln(c.Stderr, "Usage: useradd [options] LOGIN")
		return 2
	}
	name := args[0]
	if !c.Root() {
		fmt.Fprintln(c.Stderr, "useradd: Permission denied.\nuseradd: cannot lock /etc/passwd; try again later.")
		return 1
	}
	c.Host.dbMu.Lock()
	defer c.Host.dbMu.Unlock()
	if c.Host.knownUser(name) {
		fmt.Fprintf(c.Stderr, "useradd: user '%s' already exists\n", name)
		return 9
	}
	used := c.Host.usedIDs()
	id := 1000
	if f.has('r') {
		for id = 999; id > 100 && used[id]; id-- {
		}
	} else {
		for used[id] {
			id++
		}
	}
	if u, ok := f['u']; ok {
		n, err := strconv.Atoi(u)
		if err != nil {
			fmt.Fprintf(c.Stderr, "useradd: invalid user ID '%s'\n", u)
			return 3
		}
		id = n
	}
	home, shellPath := "/home/"+name, "/bin/sh"
	if d, ok := f['d']; ok {
		home = d
	}
	if s, ok := f['s']; ok {
		shellPath = s
	}
	passwd, _ := c.Host.readFile("/etc/passwd")
	group, _ := c.Host.readFile("/etc/group")
	passwd = fmt.Appendf(passwd, "%s:x:%d:%d:%s:%s:%s\n", name, id, id, f['c'], home, shellPath)
	group = fmt.Appendf(group, "%s:x:%d:\n", name, id)
	if err := c.Host.writeFile("/etc/passwd", passwd, 0o644); err != nil {
		fmt.Fprintf(c.Stderr, "useradd: cannot open /etc/passwd: %s\n", describe(err))
		return 1
	}
	if err := c.Host.writeFile("/etc/group", group, 0o644); err != nil {
		fmt.Fprintf(c.Stderr, "useradd: cannot open /etc/group: %s\n", describe(err))
		return 1
	}
	if f.has('m') {
		lp := c.Local(home)
		if err := os.MkdirAll(lp, 0o755); err == nil {
			c.Host.owners.SetOwner(lp, name, name)
		}
	}
	return 0
}
