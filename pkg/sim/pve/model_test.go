package pve

import (
	"fmt"
	"testing"
)

// diskKey says what reDiskKey says, without the regexp.
func TestDiskKeyIsTheRegexp(t *testing.T) {
	keys := []string{"efidisk0", "efidisk1", "tpmstate0", "rootfs", "rootfs0", "scsi", "scsi0", "scsi12", "scsi0a", "scsihw",
		"virtio3", "sata5", "ide2", "unused0", "mp9", "mp", "net0", "memory", "ipconfig0", "Scsi0", "ide-1", "ide٣"}
	for i := range 40 {
		keys = append(keys, fmt.Sprintf("scsi%d", i), fmt.Sprintf("x%d", i))
	}
	for _, k := range keys {
		if got, want := diskKey(k), reDiskKey.MatchString(k); got != want {
			t.Errorf("diskKey(%q) = %v, the regexp says %v", k, got, want)
		}
	}
}

func FuzzDiskKey(f *testing.F) {
	f.Add("scsi0")
	f.Add("rootfs")
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := diskKey(k), reDiskKey.MatchString(k); got != want {
			t.Errorf("diskKey(%q) = %v, the regexp says %v", k, got, want)
		}
	})
}
