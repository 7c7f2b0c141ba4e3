package remote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

func readLocal(t *testing.T, l *lab, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.srv.Root(), p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".homelab-tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestSyncWritesOnceThenUnchanged(t *testing.T) {
	l := newLab(t, nil)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	ctx := context.Background()
	f := remote.File{Path: "/etc/haproxy/haproxy.cfg", Content: []byte("global\n"), Mode: 0o640}
	for i, want := range []bool{true, false} {
		changed, err := h.Sync(ctx, f)
		if err != nil || changed != want {
			t.Fatalf("sync %d: changed=%v err=%v", i, changed, err)
		}
	}
	if got := readLocal(t, l, f.Path); got != "global\n" {
		t.Fatalf("content = %q", got)
	}
	fi, _ := os.Stat(filepath.Join(l.srv.Root(), f.Path))
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode = %v", fi.Mode())
	}
	// A mode change alone is a change.
	f.Mode = 0o600
	if changed, err := h.Sync(ctx, f); err != nil || !changed {
		t.Fatalf("mode sync: %v %v", changed, err)
	}
	f.Content = []byte("global\n  maxconn 100\n")
	if changed, err := h.Sync(ctx, f); err != nil || !changed {
		t.Fatalf("content sync: %v %v", changed, err)
	}
	got, err := h.Read(ctx, f.Path)
	if err != nil || !bytes.Equal(got, f.Content) {
		t.Fatalf("read = %q, %v", got, err)
	}
	if _, err := h.Read(ctx, "/etc/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read missing: %v", err)
	}
	if left := leftovers(t, filepath.Join(l.srv.Root(), "etc/haproxy")); len(left) != 0 {
		t.Fatalf("temporary files left: %q", left)
	}
	if _, err := h.Sync(ctx, remote.File{Path: "etc/relative", Content: []byte("x")}); err == nil {
		t.Fatal("a relative path must be refused")
	}
}

func TestSyncOwnerRunsChown(t *testing.T) {
	l := newLab(t, nil)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	f := remote.File{Path: "/etc/kubernetes/admin.conf", Content: []byte("k"), Owner: "root", Group: "kube"}
	if _, err := h.Sync(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	log := l.srv.Log()
	if len(log) != 1 || !strings.HasPrefix(log[0], "chown root:kube /etc/kubernetes/.admin.conf.homelab-tmp-") {
		t.Fatalf("log = %q", log)
	}
	// The owner followed the rename: converged.
	if changed, err := h.Sync(context.Background(), f); err != nil || changed {
		t.Fatalf("second sync: changed=%v err=%v (log %q)", changed, err, l.srv.Log())
	}
	// Someone changed the group: the file is written again.
	run(t, h, "chown :wheel /etc/kubernetes/admin.conf")
	if changed, err := h.Sync(context.Background(), f); err != nil || !changed {
		t.Fatalf("after drift: changed=%v err=%v", changed, err)
	}
	if res := run(t, h, "stat -c '%U:%G' /etc/kubernetes/admin.conf"); string(res.Stdout) != "root:kube\n" {
		t.Fatalf("owner = %q", res.Stdout)
	}
}

func TestSyncAtomicUnderDroppedConnection(t *testing.T) {
	l := newLab(t, nil)
	h := host(t, newPool(t, remote.Options{}), l.config(t))
	ctx := context.Background()
	const p = "/etc/keepalived/keepalived.conf"
	if _, err := h.Sync(ctx, remote.File{Path: p, Content: []byte("old\n")}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("new content line\n"), 10000)
	l.srv.DropNextWriteAfter(4096)
	_, err := h.Sync(ctx, remote.File{Path: p, Content: big})
	if err == nil || !step.IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable transport error", err)
	}
	if got := readLocal(t, l, p); got != "old\n" {
		t.Fatalf("target changed under a dropped write: %d bytes", len(got))
	}
	// Again: the pool redials, the stale temporary file is cleaned.
	changed, err := h.Sync(ctx, remote.File{Path: p, Content: big})
	if err != nil || !changed {
		t.Fatalf("retry: %v %v", changed, err)
	}
	if got := readLocal(t, l, p); got != string(big) {
		t.Fatal("content after retry differs")
	}
	if left := leftovers(t, filepath.Join(l.srv.Root(), "etc/keepalived")); len(left) != 0 {
		t.Fatalf("temporary files left: %q", left)
	}
	if n := l.srv.Connections(); n != 2 {
		t.Fatalf("connections = %d, want 2", n)
	}
}

func TestSyncWithSudo(t *testing.T) {
	l := newLab(t, nil)
	cfg := l.config(t)
	cfg.User = "deploy"
	h := host(t, newPool(t, remote.Options{}), cfg)
	ctx := context.Background()
	f := remote.File{Path: "/etc/haproxy/haproxy.cfg", Content: []byte("global\n"), Mode: 0o640, Owner: "haproxy"}
	os.MkdirAll(filepath.Join(l.srv.Root(), "tmp"), 0o1777)
	for i, want := range []bool{true, false} {
		changed, err := h.Sync(ctx, f)
		if err != nil || changed != want {
			t.Fatalf("sync %d: changed=%v err=%v (log %q)", i, changed, err, l.srv.Log())
		}
	}
	if got := readLocal(t, l, f.Path); got != "global\n" {
		t.Fatalf("content = %q", got)
	}
	fi, _ := os.Stat(filepath.Join(l.srv.Root(), f.Path))
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode = %v", fi.Mode())
	}
	for _, c := range l.srv.Log() {
		if !strings.HasPrefix(c, "sudo -n sh -c ") {
			t.Errorf("command not run with sudo: %q", c)
		}
	}
	if !strings.Contains(strings.Join(l.srv.Log(), "\n"), "install -m 0640 -o haproxy /tmp/.haproxy.cfg.homelab-tmp-") {
		t.Errorf("log = %q", l.srv.Log())
	}
	for _, d := range []string{"tmp", "etc/haproxy"} {
		if left := leftovers(t, filepath.Join(l.srv.Root(), d)); len(left) != 0 {
			t.Fatalf("temporary files left in %s: %q", d, left)
		}
	}
	// A mode change alone is a change, under sudo too.
	f.Mode = 0o600
	if changed, err := h.Sync(ctx, f); err != nil || !changed {
		t.Fatalf("mode sync: changed=%v err=%v", changed, err)
	}
	if changed, err := h.Sync(ctx, f); err != nil || changed {
		t.Fatalf("mode sync again: changed=%v err=%v", changed, err)
	}
	got, err := h.Read(ctx, f.Path)
	if err != nil || string(got) != "global\n" {
		t.Fatalf("read = %q, %v", got, err)
	}
	if _, err := h.Read(ctx, "/etc/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read missing: %v", err)
	}
}
