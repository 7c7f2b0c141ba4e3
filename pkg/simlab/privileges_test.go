package simlab

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/proxmox"
)

// The roles docs/dr-runbook.md creates hold every privilege the preflight
// asks for on the reference lab (the simulated lab's token holds exactly
// those), and nothing the lab does not use.
func TestRunbookRolesCoverThePreflight(t *testing.T) {
	doc, err := os.ReadFile("../../docs/dr-runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`pveum role add \S+ -privs "([^"]+)"`).FindAllStringSubmatch(string(doc), -1) {
		for _, p := range strings.Fields(m[1]) {
			documented[p] = true
		}
	}
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	acl, err := labPrivileges(inv, []string{proxmox.SDNPath("vmbr0", 0)})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for path, privs := range acl {
		for _, p := range privs {
			used[p] = true
			if !documented[p] {
				t.Errorf("the preflight asks for %s on %s; the runbook's roles do not grant it", p, path)
			}
		}
	}
	for p := range documented {
		if !used[p] && p != "Datastore.Audit" {
			t.Errorf("the runbook grants %s, which the reference lab never needs", p)
		}
	}
}
