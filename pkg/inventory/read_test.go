package inventory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadWithin runs LoadContext and fails the test if it has not returned
// within d (a hang, as reading a FIFO or /dev/zero did).
func loadWithin(t *testing.T, ctx context.Context, path string, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, _, err := LoadContext(ctx, path)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Load(%s) still running after %s", path, d)
		return nil
	}
}

// Only regular files are read: a FIFO with no writer, a device that never
// ends, a directory are refused at once, naming the path.
func TestLoadRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "inventory.yaml")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{fifo, fifo + " is not a regular file but a named pipe"},
		{"/dev/zero", "/dev/zero is not a regular file but a device"},
		{"/dev/urandom", "/dev/urandom is not a regular file but a device"},
		{dir, dir + " is not a regular file but a directory"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			if _, err := os.Stat(tt.path); err != nil {
				t.Skip(err)
			}
			err := loadWithin(t, context.Background(), tt.path, 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// A symlink to a regular file is read; one to a FIFO is refused.
func TestLoadFollowsSymlinksToRegularFilesOnly(t *testing.T) {
	dir := t.TempDir()
	withKey(t)
	good := filepath.Join(dir, "good.yaml")
	if err := os.Symlink(mustAbs(t, "../../inventories/small.yaml"), good); err != nil {
		t.Fatal(err)
	}
	if err := loadWithin(t, context.Background(), good, 5*time.Second); err != nil {
		t.Errorf("symlink to a file: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.Symlink(fifo, bad); err != nil {
		t.Fatal(err)
	}
	if err := loadWithin(t, context.Background(), bad, 5*time.Second); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("symlink to a FIFO: %v", err)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A file over MaxFileSize is refused before it is parsed; Parse refuses
// such data too.
func TestLoadRefusesAnOversizedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("# " + strings.Repeat("x", 1021) + "\n")
	for range MaxFileSize/len(line) + 1 {
		f.Write(line)
	}
	f.Close()
	start := time.Now()
	err = loadWithin(t, context.Background(), path, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), path+" is larger than 4096 KiB") {
		t.Errorf("err = %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("refusing took %s", took)
	}
	_, diags, err := Parse("x.yaml", make([]byte, MaxFileSize+1))
	if err == nil || len(diags) != 1 || !strings.Contains(diags[0].Message, "larger than 4 MiB") {
		t.Errorf("Parse: %v", err)
	}
}

// A cancelled context stops Load.
func TestLoadIsCancellable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := loadWithin(t, ctx, "../../inventories/testdata/base.yaml", 5*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// A file with thousands of problems: the decoder stops at MaxCollected
// (saying so, where it stopped), and the error message shows MaxShown of
// them and counts the rest.
func TestManyErrorsAreShownBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: many\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "bogus%d: 1\n", i)
	}
	_, diags, err := Parse("x.yaml", []byte(b.String()))
	if err == nil || len(diags) != MaxCollected {
		t.Fatalf("%d diagnostics, err %v", len(diags), err)
	}
	if last := diags[len(diags)-1].String(); last != `x.yaml:1001:1: (document): 1000 problems so far: stopped looking here` {
		t.Errorf("last diagnostic %q", last)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != MaxShown+1 || lines[MaxShown] != fmt.Sprintf("... and %d more", MaxCollected-MaxShown) {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	// The validator stops at MaxCollected too.
	b.Reset()
	b.WriteString("name: many\nguests:\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "  - {name: g%d, kind: q}\n", i)
	}
	if _, diags, _ := Parse("x.yaml", []byte(b.String())); len(diags) != MaxCollected {
		t.Errorf("validation: %d diagnostics, want %d", len(diags), MaxCollected)
	}
	if got := Diagnostics(nil).Lines(MaxShown); len(got) != 0 {
		t.Errorf("no diagnostics: %q", got)
	}
	if got := diags[:3].Lines(3); len(got) != 3 {
		t.Errorf("exactly the limit: %q", got)
	}
}

// An alias bomb (billion laughs) costs no more than its bytes: yaml.v3
// keeps aliases as nodes, and inventories refuse aliases.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("name: *a29\n")
	start := time.Now()
	_, diags, err := Parse("x.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases (*a29) are not supported") {
		t.Errorf("err = %v", err)
	}
	if len(diags) > 40 {
		t.Errorf("%d diagnostics", len(diags))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
}
