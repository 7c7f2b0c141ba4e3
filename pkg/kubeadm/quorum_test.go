package kubeadm

import (
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
)

func TestQuorum(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3} {
		if got := quorum(n); got != want {
			t.Errorf("quorum(%d) = %d, want %d", n, got, want)
		}
	}
}

// The control-plane gate's etcd check in a degraded run: the control
// planes on offline nodes are excused, the others must be started voting
// members and a quorum.
func TestMemberProblemDegraded(t *testing.T) {
	masters := []*inventory.Guest{{Name: "master-1"}, {Name: "master-2"}, {Name: "master-3"}}
	started := func(name string) member {
		return member{ID: uint64(len(name)), Name: name, PeerURLs: []string{"https://" + name + ":2380"}, ClientURLs: []string{"https://" + name + ":2379"}}
	}
	learner := started("master-2")
	learner.IsLearner = true
	tests := []struct {
		name    string
		members []member
		missing []string
		want    string // a part of the problem; "" for none
	}{
		{"all three, none missing", []member{started("master-1"), started("master-2"), started("master-3")}, nil, ""},
		{"two of three, none missing", []member{started("master-1"), started("master-2")}, nil, "2 members, not 3"},
		{"two of three, the third offline and never joined", []member{started("master-1"), started("master-2")}, []string{"master-3"}, ""},
		{"the offline one still listed", []member{started("master-1"), started("master-2"), started("master-3")}, []string{"master-3"}, ""},
		{"a running one not a member", []member{started("master-1")}, []string{"master-3"}, "1 started voting members"},
		{"a running one a learner", []member{started("master-1"), learner}, []string{"master-3"}, "etcd members:"},
		{"two offline: no quorum", []member{started("master-1")}, []string{"master-2", "master-3"}, "not a quorum of 3"},
		{"a stranger", []member{started("master-1"), started("master-2"), started("other")}, []string{"master-3"}, "etcd members:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := memberProblem(tt.members, masters, tt.missing)
			switch {
			case tt.want == "" && got != "":
				t.Errorf("problem %q, want none", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("problem %q, want one with %q", got, tt.want)
			}
		})
	}
}
