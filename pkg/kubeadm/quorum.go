package kubeadm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
)

// quorum is the least number of members that is a majority of n: 2 of 3,
// 3 of 5. etcd answers while a quorum of its voting members does.
func quorum(n int) int { return n/2 + 1 }

// present returns the guests that are not missing (not on an offline
// Proxmox node in this run).
func present(guests []*inventory.Guest, missing []string) []*inventory.Guest {
	var out []*inventory.Guest
	for _, g := range guests {
		if !slices.Contains(missing, g.Name) {
			out = append(out, g)
		}
	}
	return out
}

// presentNames is names without the missing ones.
func presentNames(names, missing []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(missing, n) {
			out = append(out, n)
		}
	}
	return out
}

// guestNames returns the guests' names.
func guestNames(guests []*inventory.Guest) []string {
	names := make([]string, len(guests))
	for i, g := range guests {
		names[i] = g.Name
	}
	return names
}

// memberProblem says what is wrong with etcd's members for these control
// planes, or "" when each is a started voting member and there is no
// other. A control plane in missing (its Proxmox node is offline) is
// excused: its member may be listed or not, and the others must still be
// a quorum of the control planes.
func memberProblem(members []member, masters []*inventory.Guest, missing []string) string {
	names := guestNames(masters)
	voting := 0
	for _, m := range members {
		switch {
		case !slices.Contains(names, m.Name):
			return "etcd members: " + membersString(members)
		case slices.Contains(missing, m.Name):
			continue
		case !m.started() || m.IsLearner:
			return "etcd members: " + membersString(members)
		}
		voting++
	}
	if len(missing) == 0 {
		if len(members) != len(masters) {
			return fmt.Sprintf("etcd has %d members, not %d: %s", len(members), len(masters), membersString(members))
		}
		return ""
	}
	if want := len(present(masters, missing)); voting != want || voting < quorum(len(masters)) {
		return fmt.Sprintf("etcd has %d started voting members of the %d control planes that run, not a quorum of %d (%s offline): %s",
			voting, want, len(masters), strings.Join(missing, ", "), membersString(members))
	}
	return ""
}
