package host_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/sim/host"
)

// sshLab is one simulated host reached over real SSH through pkg/remote,
// as root and as debian (whose commands pkg/remote wraps in sudo).
type sshLab struct {
	lab          *host.Lab
	h            *host.Host
	root, debian remote.Host
}

func newSSHLab(t *testing.T, power func() bool, packages ...string) *sshLab {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := host.NewLab(host.LabOptions{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, VRRPScale: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	h, err := lab.Add(host.Spec{Name: "lb-1", Address: netip.MustParsePrefix("10.0.0.11/24"), Users: []string{"debian"},
		Power: power, Packages: packages})
	if err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool(remote.Options{ConnectTimeout: time.Second})
	t.Cleanup(func() { pool.Close() })
	tofu := filepath.Join(t.TempDir(), "known_hosts")
	addr, ok := lab.Address(netip.MustParseAddrPort("10.0.0.11:22"))
	if !ok {
		t.Fatal("no SSH address for 10.0.0.11:22")
	}
	login := func(user string) remote.Host {
		r, err := pool.Host(remote.Config{Name: "lb-1", Address: addr, User: user, Signers: []ssh.Signer{signer},
			HostKeys: remote.HostKeyPolicy{TOFUFile: tofu}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	return &sshLab{lab: lab, h: h, root: login("root"), debian: login("debian")}
}

// The shell features pkg/remote and the phases use, over SSH: exit
// statuses, stdout and stderr, redirections, lists, pipes, command
// substitution, quoting, stdin, here-documents and globs, in bash (root's
// login shell) and dash (`sudo -n sh -c`, as pkg/remote runs commands of
// other users).
func TestShellOverSSH(t *testing.T) {
	l := newSSHLab(t, nil)
	ctx := context.Background()
	tricky := `it's a "test" $HOME \ * ; && |`
	cases := []struct {
		name           string
		as             remote.Host
		script         string
		stdin          string
		status         int
		stdout, stderr string
	}{
		{name: "status and streams", as: l.root, script: "echo out; echo err >&2; exit 3", status: 3, stdout: "out\n", stderr: "err\n"},
		{name: "2>&1 in dash", as: l.debian, script: "nosuch 2>&1", status: 127, stdout: "sh: 1: nosuch: not found\n"},
		{name: ">/dev/null and ||", as: l.debian, script: "cat /nope >/dev/null 2>&1 || echo fallback", stdout: "fallback\n"},
		{name: "&& and ;", as: l.root, script: "false && echo no; echo yes", stdout: "yes\n"},
		{name: "pipes", as: l.debian, script: "echo a b c | grep b | wc -l", stdout: "1\n"},
		{name: "command substitution", as: l.debian, script: `x=$(hostname) && echo "host: $x"`, stdout: "host: lb-1\n"},
		{name: "quoting", as: l.debian, script: "echo " + remote.Quote(tricky), stdout: tricky + "\n"},
		{name: "stdin", as: l.debian, script: "cat", stdin: "data\n", stdout: "data\n"},
		{name: "set -e", as: l.debian, script: "set -e; false; echo unreachable", status: 1},
		{name: "dash's echo reads escapes", as: l.debian, script: `echo 'a\tb'`, stdout: "a\tb\n"},
		{name: "bash's does not", as: l.root, script: `echo 'a\tb'`, stdout: "a\\tb\n"},
		{name: "no pipefail in dash", as: l.debian, script: "set -euo pipefail", status: 2, stderr: "sh: 1: set: Illegal option -o pipefail\n"},
		{name: "pipefail in bash", as: l.root, script: "set -o pipefail; false | true", status: 1},
		{name: "here-document", as: l.debian, script: "cat <<'EOF'\nline $x\nEOF", stdout: "line $x\n"},
		{name: "globs", as: l.debian, script: "touch /tmp/g1 /tmp/g2 && echo /tmp/g*", stdout: "/tmp/g1 /tmp/g2\n"},
		{name: "syntax error", as: l.debian, script: "echo 'unclosed", status: 2, stderr: "~Syntax error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := remote.Command{Script: c.script}
			if c.stdin != "" {
				cmd.Stdin = strings.NewReader(c.stdin)
			}
			res, err := c.as.Run(ctx, cmd)
			var exit *remote.ExitError
			if c.status == 0 && err != nil || c.status != 0 && !errors.As(err, &exit) {
				t.Fatalf("err = %v", err)
			}
			stderrOK := string(res.Stderr) == c.stderr
			if want, ok := strings.CutPrefix(c.stderr, "~"); ok {
				stderrOK = strings.Contains(string(res.Stderr), want)
			}
			if res.ExitStatus != c.status || string(res.Stdout) != c.stdout || !stderrOK {
				t.Errorf("got %d %q %q, want %d %q %q", res.ExitStatus, res.Stdout, res.Stderr, c.status, c.stdout, c.stderr)
			}
		})
	}
}

// pkg/remote's file sync as a sudo user, into /etc and into /tmp (where
// its upload lives too), with owners; a second sync changes nothing.
func TestSyncAsSudoUser(t *testing.T) {
	l := newSSHLab(t, nil, "haproxy")
	ctx := context.Background()
	for _, f := range []remote.File{
		{Path: "/etc/haproxy/haproxy.cfg", Content: []byte("global\n"), Mode: 0o640, Owner: "root", Group: "haproxy"},
		{Path: "/tmp/homelab-check-1-haproxy.cfg", Content: []byte("check me\n"), Mode: 0o600},
	} {
		for i, want := range []bool{true, false} {
			changed, err := l.debian.Sync(ctx, f)
			if err != nil || changed != want {
				t.Fatalf("%s: sync %d: changed=%v err=%v", f.Path, i, changed, err)
			}
		}
		got, err := l.debian.Read(ctx, f.Path)
		if err != nil || string(got) != string(f.Content) {
			t.Fatalf("%s: read %q %v", f.Path, got, err)
		}
	}
	res, err := l.debian.Run(ctx, remote.Command{Script: "stat -c '%a %U %G' /etc/haproxy/haproxy.cfg"})
	if err != nil || string(res.Stdout) != "640 root haproxy\n" {
		t.Fatalf("stat: %q %v", res.Stdout, err)
	}
	if _, err := l.debian.Read(ctx, "/etc/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read a missing file: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(l.h.Root(), "tmp"))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".homelab-tmp-") {
			t.Errorf("left in /tmp: %s", e.Name())
		}
	}
}

// A host's SSH port refuses while it is off; when it comes on it boots
// (enabled units start); going off stops them and drops connections.
func TestPower(t *testing.T) {
	var on atomic.Bool
	l := newSSHLab(t, on.Load, "haproxy")
	ctx := context.Background()
	if c, err := l.lab.Dial(ctx, "tcp", "10.0.0.11:22"); err == nil {
		c.Close()
		t.Fatal("the SSH port of a host that is off answers")
	}
	if _, err := l.root.Run(ctx, remote.Command{Script: "true"}); err == nil || !remote.NotAnswering(ctx, err) {
		t.Fatalf("SSH to a host that is off: %v", err)
	}
	if c, err := l.lab.Dial(ctx, "tcp", "10.0.0.99:22"); err == nil {
		c.Close()
		t.Fatal("an address without a host answers")
	}
	on.Store(true)
	c, err := l.lab.Dial(ctx, "tcp", "10.0.0.11:22")
	if err != nil {
		t.Fatalf("the host is on, its SSH port refuses: %v", err)
	}
	c.Close()
	res, err := l.root.Run(ctx, remote.Command{Script: "systemctl is-active haproxy"})
	if err != nil || string(res.Stdout) != "active\n" {
		t.Fatalf("after boot: %q %v", res.Stdout, err)
	}
	on.Store(false)
	if _, err := l.root.Run(ctx, remote.Command{Script: "true"}); err == nil {
		t.Fatal("a host that went off still runs commands")
	}
	if l.h.Unit("haproxy").Active {
		t.Fatal("HAProxy runs on a host that is off")
	}
	on.Store(true)
	if res, err := l.root.Run(ctx, remote.Command{Script: "systemctl is-active haproxy"}); err != nil || string(res.Stdout) != "active\n" {
		t.Fatalf("after the second boot: %q %v", res.Stdout, err)
	}
}
