package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

func testKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func start(t *testing.T, h Handler) (*Server, ssh.Signer) {
	t.Helper()
	key := testKey(t)
	srv, err := New(Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}, Root: t.TempDir(), Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, key
}

func dial(srv *Server, key ssh.Signer, user string) (*ssh.Client, error) {
	return ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey()),
	})
}

func mustDial(t *testing.T, srv *Server, key ssh.Signer) *ssh.Client {
	t.Helper()
	c, err := dial(srv, key, "root")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestExecHandlerAndLog(t *testing.T) {
	srv, key := start(t, func(ctx context.Context, s Session) int {
		in, _ := io.ReadAll(s.Stdin)
		fmt.Fprintf(s.Stdout, "%s ran %q with %q", s.User, s.Command, in)
		fmt.Fprint(s.Stderr, "warn")
		if s.Root == "" {
			return 99
		}
		return 7
	})
	c := mustDial(t, srv, key)
	sess, _ := c.NewSession()
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr, sess.Stdin = &out, &errb, strings.NewReader("input")
	err := sess.Run("do it")
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 7 {
		t.Fatalf("err = %v", err)
	}
	if out.String() != `root ran "do it" with "input"` || errb.String() != "warn" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
	if got := srv.Log(); !reflect.DeepEqual(got, []string{"do it"}) {
		t.Fatalf("log = %q", got)
	}
}

func TestUnauthorizedKeyRefused(t *testing.T) {
	srv, _ := start(t, nil)
	if _, err := dial(srv, testKey(t), "root"); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("err = %v", err)
	}
}

func TestRefuseNextAndRotate(t *testing.T) {
	srv, key := start(t, nil)
	srv.RefuseNext(2)
	for i := 0; i < 2; i++ {
		if _, err := dial(srv, key, "root"); err == nil {
			t.Fatalf("dial %d succeeded", i)
		}
	}
	c := mustDial(t, srv, key)
	c.Close()
	if srv.Connections() != 1 {
		t.Fatalf("connections = %d", srv.Connections())
	}
	old := srv.HostKey()
	if err := srv.RotateHostKey(); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(old.Marshal(), srv.HostKey().Marshal()) {
		t.Fatal("host key did not change")
	}
	_, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.FixedHostKey(old)})
	if err == nil {
		t.Fatal("the old host key still works")
	}
}

func TestSFTPRootedAndEscapes(t *testing.T) {
	srv, key := start(t, nil)
	sc, err := sftp.NewClient(mustDial(t, srv, key))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.MkdirAll("/etc/haproxy"); err != nil {
		t.Fatal(err)
	}
	f, err := sc.Create("/etc/haproxy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("cfg"))
	f.Close()
	if b, err := os.ReadFile(filepath.Join(srv.Root(), "etc/haproxy/haproxy.cfg")); err != nil || string(b) != "cfg" {
		t.Fatalf("local file: %q %v", b, err)
	}
	if err := sc.PosixRename("/etc/haproxy/haproxy.cfg", "/etc/haproxy/renamed"); err != nil {
		t.Fatal(err)
	}
	// ".." cannot climb above the root.
	if _, err := sc.Open("/../../../etc/haproxy/renamed"); err != nil {
		t.Fatalf("dot-dot path: %v", err)
	}
	if _, err := sc.Stat("/../../../../etc/passwd"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("escaped to the real /etc/passwd: %v", err)
	}
	// A symbolic link out of the root is refused.
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600)
	os.Symlink(outside, filepath.Join(srv.Root(), "link"))
	if _, err := sc.Open("/link/secret"); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open through a link out of the root: %v", err)
	}
	if err := sc.Symlink("/etc", "/etc2"); err == nil {
		t.Fatal("symlink creation should be refused")
	}
}

func TestDropNextWriteAfter(t *testing.T) {
	srv, key := start(t, nil)
	c := mustDial(t, srv, key)
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	srv.DropNextWriteAfter(10)
	f, err := sc.Create("/big")
	if err != nil {
		t.Fatal(err)
	}
	_, werr := f.Write(bytes.Repeat([]byte("x"), 100000))
	cerr := f.Close()
	if werr == nil && cerr == nil {
		t.Fatal("the write survived a dropped connection")
	}
	if err := c.Wait(); err == nil {
		t.Log("connection ended cleanly")
	}
	if fi, err := os.Stat(filepath.Join(srv.Root(), "big")); err != nil || fi.Size() > 10 {
		t.Fatalf("partial file: %v %v", fi, err)
	}
	// Disarmed: the next connection writes fine.
	sc2, err := sftp.NewClient(mustDial(t, srv, key))
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := sc2.Create("/big2")
	if _, err := f2.Write(bytes.Repeat([]byte("x"), 100000)); err != nil {
		t.Fatal(err)
	}
	if err := f2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDirectTCPIP(t *testing.T) {
	jump, key := start(t, nil)
	target, _ := start(t, nil)
	c := mustDial(t, jump, key)
	conn, err := c.Dial("tcp", target.Addr())
	if err != nil {
		t.Fatal(err)
	}
	banner := make([]byte, 4)
	if _, err := io.ReadFull(conn, banner); err != nil || string(banner) != "SSH-" {
		t.Fatalf("banner %q %v", banner, err)
	}
	conn.Close()
	if _, err := c.Dial("tcp", "192.0.2.1:22"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("non-loopback destination: %v", err)
	}
}

func TestBuiltin(t *testing.T) {
	srv, key := start(t, nil)
	c := mustDial(t, srv, key)
	runCmd := func(cmd string) (string, int) {
		sess, _ := c.NewSession()
		defer sess.Close()
		out, err := sess.CombinedOutput(cmd)
		var exit *ssh.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitStatus()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	for _, tc := range []struct {
		cmd, out string
		status   int
	}{
		{`echo "a  b" 'c'\''d'`, "a  b c'd\n", 0},
		{`sudo -n sh -c 'mkdir -p /etc/x && echo hi'`, "hi\n", 0},
		{`false && echo no`, "", 1},
		{`exit 3`, "", 3},
		{`test -d /etc/x`, "", 0},
		{`cat /nope`, "cat: /nope: No such file or directory\n", 1},
		{`systemctl reload haproxy`, "sh: systemctl: command not found\n", 127},
		{`echo $HOME`, "sh: unsupported shell syntax '$'\n", 127},
		{`mkdir -p /o && chown haproxy:lb /o && stat -c '%a %U %G %n' /o`, "755 haproxy lb /o\n", 0},
		{`mv /o /p && chown :wheel /p && stat -c %U:%G /p`, "haproxy:wheel\n", 0},
		{`stat -c %U /etc/x`, "root\n", 0},
		{`stat -c %U /nope`, "stat: cannot statx '/nope': No such file or directory\n", 1},
	} {
		out, st := runCmd(tc.cmd)
		if out != tc.out || st != tc.status {
			t.Errorf("%s: got %q %d, want %q %d", tc.cmd, out, st, tc.out, tc.status)
		}
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		`a b  c`:             {"a", "b", "c"},
		`'a b'"c d"e\ f`:     {"a bc de f"},
		`"x\"y\\z" ''`:       {`x"y\z`, ""},
		`sh -c 'echo '\''x'`: {"sh", "-c", "echo 'x"},
	} {
		got, err := splitWords(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitWords(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestDropNextExec(t *testing.T) {
	srv, key := start(t, nil)
	c := mustDial(t, srv, key)
	srv.DropNextExec()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	err = sess.Run("echo lost")
	var exit *ssh.ExitError
	if err == nil || errors.As(err, &exit) {
		t.Fatalf("err = %v, want a broken connection", err)
	}
	if err := c.Wait(); err == nil {
		t.Log("connection ended cleanly")
	}
	if got := srv.Log(); !reflect.DeepEqual(got, []string{"echo lost"}) {
		t.Fatalf("log = %q", got)
	}
	// Disarmed: the next connection runs commands.
	sess2, _ := mustDial(t, srv, key).NewSession()
	if out, err := sess2.Output("echo ok"); err != nil || string(out) != "ok\n" {
		t.Fatalf("after the fault: %q %v", out, err)
	}
}
