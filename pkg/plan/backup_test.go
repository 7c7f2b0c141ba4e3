package plan

import (
	"strings"
	"testing"
)

// The backup note says where the backup goes, or why none is taken, and
// names every control plane the run destroys.
func TestBackupNote(t *testing.T) {
	tests := []struct {
		name string
		b    Backup
		want []string
	}{
		{"taken", Backup{ControlPlanes: []string{"master-1"}, Dir: "/srv/k8s"},
			[]string{"BACKUP: before master-1 is destroyed (-/+), the cluster is backed up into a new directory under /srv/k8s", "--no-backup: none"}},
		{"no directory", Backup{ControlPlanes: []string{"master-1", "master-2"}},
			[]string{"master-1, master-2 are destroyed", "kubernetes.backup_dir is not set", "the run stops before anything is destroyed", "--no-backup"}},
		{"opted out", Backup{ControlPlanes: []string{"master-2"}, Dir: "/srv/k8s", OptedOut: true},
			[]string{"NO BACKUP: master-2 is destroyed (-/+) without a backup", "(--no-backup)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.b.Note()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			if tt.b.OptedOut && strings.Contains(got, tt.b.Dir) {
				t.Errorf("%q names a directory nothing is written to", got)
			}
		})
	}
}
