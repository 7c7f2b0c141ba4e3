package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/homelab"
)

// down of a simulated lab with a cluster lists the backup it takes first;
// without kubernetes.backup_dir it refuses, removing nothing, and names
// the way out; with it, down backs up first, says where, then removes.
func TestDownBacksUpFirst(t *testing.T) {
	invPath := tempInventory(t, "small")
	if code, out, errOut := runCLI(t, "up", "--simulate", "-i", invPath); code != exitOK {
		t.Fatalf("up: exit %d (stderr %q)\n%s", code, errOut, out)
	}
	code, out, errOut := runCLI(t, "down", "--simulate", "--yes", "-i", invPath)
	if code != 1 || !strings.Contains(out, "  > backup   backup of the cluster before the removal of master-1: kubernetes.backup_dir is not set") ||
		!strings.Contains(errOut, "down: nothing was removed: refused before anything is destroyed") || !strings.Contains(errOut, "pass --no-backup") {
		t.Fatalf("down without backup_dir: exit %d (stderr %q)\n%s", code, errOut, out)
	}

	parent := t.TempDir()
	data, err := os.ReadFile(invPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(invPath, []byte(strings.Replace(string(data), "\nkubernetes:\n", "\nkubernetes:\n  backup_dir: "+parent+"\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "down", "--simulate", "--yes", "-i", invPath)
	if code != exitOK {
		t.Fatalf("down: exit %d (stderr %q)\n%s", code, errOut, out)
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Fatalf("backups under %s: %v", parent, entries)
	}
	dir := filepath.Join(parent, entries[0].Name())
	i, j := strings.Index(out, "written to "+dir), strings.Index(out, "deleted ")
	if i < 0 || j < i {
		t.Errorf("down does not back up before it deletes:\n%s", out)
	}
	inv, _, err := homelab.Load(context.Background(), invPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := homelab.OpenBackup(inv, dir); err != nil {
		t.Errorf("the backup down took: %v", err)
	}
}
