package homelab_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/simlab"
	"github.com/homelabctl/homelab/pkg/step"
)

// backupTime is when the tests' backups before a down are taken.
var backupTime = time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)

// downWith runs DownPlanWith and Down, returning what Down printed.
func downWith(t *testing.T, inv *inventory.Inventory, lab *simlab.Lab, opts DownOptions) ([]Removal, string, error) {
	t.Helper()
	opts.Now = func() time.Time { return backupTime }
	removals, err := DownPlanWith(context.Background(), inv, lab.Clients(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = Down(context.Background(), removals, &out)
	return removals, out.String(), err
}

// guestsLeft counts the inventory's guests in the lab.
func guestsLeft(inv *inventory.Inventory, lab *simlab.Lab) int {
	n := 0
	for _, g := range inv.Guests {
		if _, ok := lab.Proxmox.Guest(g.VMID); ok {
			n++
		}
	}
	return n
}

// down on a lab with a cluster backs it up first, into a new directory
// under kubernetes.backup_dir (0700, files 0600), says where and nothing
// of what it holds, then removes everything; the backup opens for a
// restore. --no-backup takes none.
func TestDownBacksUpTheClusterFirst(t *testing.T) {
	for _, noBackup := range []bool{false, true} {
		t.Run(fmt.Sprintf("no-backup=%v", noBackup), func(t *testing.T) {
			parent := t.TempDir()
			inv, lab := haLab(t, func(inv *inventory.Inventory) { inv.Kubernetes.BackupDir = parent })
			upFull(t, inv, lab, "up")
			removals, out, err := downWith(t, inv, lab, DownOptions{NoBackup: noBackup})
			if err != nil {
				t.Fatalf("down: %v\n%s", err, out)
			}
			if n := guestsLeft(inv, lab); n != 0 {
				t.Errorf("%d guests left after down", n)
			}
			entries, _ := os.ReadDir(parent)
			if noBackup {
				if removals[0].Backup || len(entries) != 0 || strings.Contains(out, "backed up") {
					t.Errorf("--no-backup: first entry %+v, %d backups, output:\n%s", removals[0], len(entries), out)
				}
				return
			}
			if !removals[0].Backup || !strings.Contains(removals[0].What, "before the removal of master-1, master-2, master-3: into a new k8s-api.home.example-<UTC time> directory under "+parent) {
				t.Errorf("first entry %+v", removals[0])
			}
			dir := filepath.Join(parent, "k8s-api.home.example-20261206T210000Z")
			if len(entries) != 1 || entries[0].Name() != filepath.Base(dir) {
				t.Fatalf("backups under %s: %v", parent, entries)
			}
			lines := strings.Split(out, "\n")
			if !strings.HasPrefix(lines[0], "backed up cluster kubernetes at k8s-api.home.example") || !strings.HasSuffix(lines[0], "written to "+dir) {
				t.Errorf("down does not begin with the backup:\n%s", out)
			}
			b, err := OpenBackup(inv, dir)
			if err != nil {
				t.Fatalf("the backup down took does not open: %v", err)
			}
			assertNoSecrets(t, "down's output", out, secretsOf(t, b))
			filepath.WalkDir(dir, func(p string, d os.DirEntry, _ error) error {
				fi, _ := d.Info()
				if d.IsDir() && fi.Mode().Perm() != 0o700 || !d.IsDir() && fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v", p, fi.Mode())
				}
				return nil
			})
		})
	}
}

// stopGuests stops guests through the PVE API, as a dead lab has them.
func stopGuests(t *testing.T, lab *simlab.Lab, guests ...*inventory.Guest) {
	t.Helper()
	a := lab.Access()
	for _, g := range guests {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/nodes/%s/qemu/%d/status/stop", a.ProxmoxURL, g.Node, g.VMID), nil)
		req.Header.Set("Authorization", "PVEAPIToken="+a.ProxmoxTokenID+"="+a.ProxmoxTokenSecret)
		resp, err := lab.Proxmox.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if pg, ok := lab.Proxmox.Guest(g.VMID); ok && pg.Status == "stopped" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not stop", g.Name)
			}
		}
	}
}

// A down of a dead lab (every control plane stopped) is not blocked: no
// control plane answers, so there is nothing to back up; down says so and
// removes everything. That holds without kubernetes.backup_dir too.
func TestDownOfADeadClusterGoesOn(t *testing.T) {
	for _, parent := range []string{"set", ""} {
		t.Run("backup_dir="+parent, func(t *testing.T) {
			dir := ""
			if parent != "" {
				dir = t.TempDir()
			}
			inv, lab := haLab(t, func(inv *inventory.Inventory) { inv.Kubernetes.BackupDir = dir })
			upFull(t, inv, lab, "up")
			stopGuests(t, lab, inv.ControlPlanes()...)
			removals, out, err := downWith(t, inv, lab, DownOptions{})
			if err != nil {
				t.Fatalf("down of a dead cluster: %v\n%s", err, out)
			}
			if !removals[0].Backup {
				t.Errorf("no backup entry: %+v", removals[0])
			}
			for _, want := range []string{"no backup before down: there is no cluster to back up (no control plane answers for the cluster: master-1: does not answer SSH; master-2: does not answer SSH; master-3: does not answer SSH)"} {
				if !strings.Contains(out, want) {
					t.Errorf("down does not say %q:\n%s", want, out)
				}
			}
			if n := guestsLeft(inv, lab); n != 0 {
				t.Errorf("%d guests left after down", n)
			}
			if dir != "" {
				if e, _ := os.ReadDir(dir); len(e) != 0 {
					t.Errorf("a backup of a dead cluster: %v", e)
				}
			}
		})
	}
}

// A backup that fails, or a cluster that answers while no backup_dir is
// set, stops down before anything is removed.
func TestDownStopsWhenTheBackupFails(t *testing.T) {
	tests := []struct {
		name  string
		dir   func(t *testing.T) string
		check func(error) bool
		want  string
	}{
		{"no backup_dir", func(*testing.T) string { return "" },
			func(err error) bool { var e *BackupDirError; return errors.As(err, &e) },
			"kubernetes.backup_dir is not set: set it in the inventory, or pass --no-backup"},
		{"unwritable backup_dir", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "a-file")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, func(err error) bool { return err != nil }, "backup before down: backup directory: mkdir "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			inv, lab := haLab(t, func(inv *inventory.Inventory) { inv.Kubernetes.BackupDir = dir })
			upFull(t, inv, lab, "up")
			guests, calls := guestsLeft(inv, lab), lab.Proxmox.MutatingCalls()
			_, out, err := downWith(t, inv, lab, DownOptions{})
			if !tt.check(err) || !strings.Contains(err.Error(), "down: nothing was removed: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("down: %v, want %q", err, tt.want)
			}
			if guestsLeft(inv, lab) != guests || lab.Proxmox.MutatingCalls() != calls || out != "" {
				t.Errorf("down removed something after the backup failed (%d of %d guests left):\n%s", guestsLeft(inv, lab), guests, out)
			}
			if _, ok := lab.Kube.Cluster(); !ok {
				t.Error("the cluster is gone")
			}
		})
	}
}

// up --replace of a control plane: the plan says a backup is taken first
// (and where), the replace step takes it before it deletes the guest, the
// backup opens, and the rebuilt master-3 rejoins the cluster.
func TestReplaceOfAControlPlaneBacksUpFirst(t *testing.T) {
	parent := t.TempDir()
	inv, lab := haLab(t, func(inv *inventory.Inventory) { inv.Kubernetes.BackupDir = parent })
	upFull(t, inv, lab, "up")
	m3 := &inv.Guests[slicesIndex(inv, "master-3")]
	m3.Disk-- // a disk does not shrink in place
	ctx := context.Background()
	p, err := Plan(ctx, inv, fullStack(t), PlanOptions{Clients: lab.Clients(), Replace: []string{"master-3"}})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := p.Step(step.GuestID("master-3")); s.Change.Action != step.Replace {
		t.Fatalf("guest/master-3 is %s, want a replace", s.Change.Action.Name())
	}
	if p.Backup == nil || p.Backup.Dir != parent || len(p.Backup.ControlPlanes) != 1 || p.Backup.OptedOut {
		t.Fatalf("the plan's backup: %+v", p.Backup)
	}
	var log runLog
	_, err = Run(ctx, p, RunOptions{Parallelism: 6, Sink: engine.SinkFunc(log.Event)})
	out := strings.Join(log.lines, "\n")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Fatalf("backups: %v", entries)
	}
	dir := filepath.Join(parent, entries[0].Name())
	want := "guest/master-3: backed up cluster kubernetes at k8s-api.home.example"
	i := strings.Index(out, want)
	if i < 0 || !strings.Contains(out[i:], "before the replace of master-3") || !strings.Contains(out[i:], "written to "+dir) {
		t.Fatalf("the run does not say it backed up first:\n%s", out)
	}
	if j := strings.Index(out, fmt.Sprintf("guest/master-3: deleted %d", m3.VMID)); j < i {
		t.Errorf("master-3 was not deleted after the backup:\n%s", out)
	}
	b, err := OpenBackup(inv, dir)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, "the run's events", out, secretsOf(t, b))
	healthy(t, lab)
}

func slicesIndex(inv *inventory.Inventory, name string) int {
	for i, g := range inv.Guests {
		if g.Name == name {
			return i
		}
	}
	return -1
}

// A plan made with NoBackup says no backup is taken, and applying it
// saved takes none even though Apply is not told again; the replaced
// master-3 rejoins.
func TestSavedPlanWithNoBackupTakesNone(t *testing.T) {
	data, err := os.ReadFile("testdata/ha.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	text := strings.Replace(string(data), "\nkubernetes:\n", "\nkubernetes:\n  backup_dir: "+parent+"\n", 1)
	path := filepath.Join(t.TempDir(), "ha.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := loadInventory(t, path)
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	upFull(t, inv, lab, "up")

	smaller := strings.Replace(text, "    ip: 192.168.30.23\n", "    ip: 192.168.30.23\n    disk: 19\n", 1)
	if err := os.WriteFile(path, []byte(smaller), 0o600); err != nil {
		t.Fatal(err)
	}
	inv = loadInventory(t, path)
	ctx := context.Background()
	p, err := Plan(ctx, inv, fullStack(t), PlanOptions{Clients: lab.Clients(), Replace: []string{"master-3"}, NoBackup: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Backup == nil || !p.Backup.OptedOut || !strings.HasPrefix(p.Backup.Note(), "NO BACKUP: master-3 is destroyed") {
		t.Fatalf("the plan's backup: %+v", p.Backup)
	}
	saved := savedPlan(t, p)
	if saved.Backup == nil || !saved.Backup.OptedOut {
		t.Fatalf("the saved plan's backup: %+v", saved.Backup)
	}
	var log runLog
	if _, _, err := Apply(ctx, saved, ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event)}); err != nil {
		t.Fatalf("apply: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	if e, _ := os.ReadDir(parent); len(e) != 0 {
		t.Errorf("a backup was taken: %v", e)
	}
	out := strings.Join(log.lines, "\n")
	if !strings.Contains(out, "guest/master-3: deleted 213") || strings.Contains(out, "backed up") {
		t.Errorf("master-3 was not replaced without a backup:\n%s", out)
	}
	healthy(t, lab)
}
