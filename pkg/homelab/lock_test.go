package homelab

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunLock(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(dir, "up")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir, "down")
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.PID != os.Getpid() || le.Holder.Command != "up" || !strings.Contains(err.Error(), "another run holds") {
		t.Fatalf("second lock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := Lock(dir, "down")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	l2.Unlock()
}

// A lock whose holder died on this host is taken over; one held on
// another host is not.
func TestRunLockStale(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1)")
	}
	host, _ := os.Hostname()
	write := func(h Holder) {
		b, _ := json.Marshal(h)
		os.WriteFile(filepath.Join(dir, "lock"), b, 0o600)
	}
	write(Holder{PID: cmd.Process.Pid, Host: host, Command: "up"})
	l, err := Lock(dir, "up")
	if err != nil {
		t.Fatalf("a dead holder's lock: %v", err)
	}
	l.Unlock()
	write(Holder{PID: 1, Host: "elsewhere", Command: "up"})
	if _, err := Lock(dir, "up"); err == nil {
		t.Fatal("took a lock held on another host")
	}
}

func TestJournal(t *testing.T) {
	dir := t.TempDir()
	f, err := Journal(dir, "up")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	if info.Mode().Perm() != 0o600 || !strings.HasSuffix(f.Name(), "-up.jsonl") || filepath.Dir(f.Name()) != filepath.Join(dir, "runs") {
		t.Errorf("journal %s mode %v", f.Name(), info.Mode().Perm())
	}
}

// A lock file that does not name its holder is an *UnreadableLockError
// that wraps why, and the lock is not taken.
func TestRunLockUnreadable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lock"), []byte("half a reco"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Lock(dir, "up")
	var ue *UnreadableLockError
	var se *json.SyntaxError
	if !errors.As(err, &ue) || ue.Path != filepath.Join(dir, "lock") || !errors.As(err, &se) || !strings.Contains(err.Error(), "remove it if no run is going on") {
		t.Fatalf("err = %v, want an *UnreadableLockError wrapping the JSON error", err)
	}
}
