package plan

import (
	"fmt"
	"strings"
)

// Note says what a run does about the backup, in one sentence for the
// text and Markdown views: where it backs the cluster up before it
// destroys the control planes, or that it will not.
func (b *Backup) Note() string {
	cps := strings.Join(b.ControlPlanes, ", ")
	verb := "is"
	if len(b.ControlPlanes) > 1 {
		verb = "are"
	}
	switch {
	case b.OptedOut:
		return fmt.Sprintf("NO BACKUP: %s %s destroyed (-/+) without a backup of the cluster first (--no-backup).", cps, verb)
	case b.Dir == "":
		return fmt.Sprintf("BACKUP: %s %s destroyed (-/+), but kubernetes.backup_dir is not set: if a control plane answers, the run stops before anything is destroyed. Set it, or pass --no-backup.", cps, verb)
	default:
		return fmt.Sprintf("BACKUP: before %s %s destroyed (-/+), the cluster is backed up into a new directory under %s (nothing to back up if no control plane answers; --no-backup: none).", cps, verb, b.Dir)
	}
}
