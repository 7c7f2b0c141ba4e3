package homelab

import (
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// A saved step is compared with what the lab says now by what a reviewer
// read: the action, the fields and the files; a reason worded otherwise
// or a step that now could not read its guest yet is no difference. The
// message never says "was X, now says X".
func TestDifference(t *testing.T) {
	create := step.Change{Action: step.Create, Fields: []step.Field{step.Set("path", "~/.kube/small.conf"), step.Set("server", "https://k8s:6443")}}
	file := step.File{Host: "lb-1", Path: "/etc/haproxy/haproxy.cfg", Mode: "0644", Content: "a\n"}
	for _, tc := range []struct {
		name     string
		observed bool
		was, now step.Change
		want     string
	}{
		{"same, offline", false, create, create, ""},
		{"same, observed", true, create, create, ""},
		{"fresh now", false, create, create.Unread("master-1 does not answer SSH yet"), ""},
		{"other reason", true, step.Change{Action: step.Run, Reason: "a gate"}, step.Change{Action: step.Run, Reason: "running: wait"}, ""},
		{"built since, offline", false, create, step.Change{Action: step.None},
			"step kube/x was create (+) in the plan (not observed: as on an empty lab), the lab now says none (=)"},
		{"built since, observed", true, create, step.Change{Action: step.None},
			"step kube/x was create (+) in the plan, the lab now says none (=)"},
		{"replace now", true, step.Change{Action: step.Update}, step.Change{Action: step.Replace},
			"step kube/x was update (~) in the plan, the lab now says replace (-/+)"},
		{"other field", false, create, step.Change{Action: step.Create, Fields: []step.Field{step.Set("path", "/sim/kubeconfig"), step.Set("server", "https://k8s:6443")}},
			"step kube/x is create (+) as in the plan (not observed: as on an empty lab), but the lab now gives other fields path"},
		{"field gone", true, create, step.Change{Action: step.Create, Fields: create.Fields[:1]},
			"step kube/x is create (+) as in the plan, but the lab now gives other fields server"},
		{"other file", true, step.Change{Action: step.Update, Files: []step.File{file}},
			step.Change{Action: step.Update, Files: []step.File{{Host: file.Host, Path: file.Path, Mode: file.Mode, Content: file.Content, Diff: "-b\n+a\n"}}},
			"step kube/x is update (~) as in the plan, but the lab now gives other files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := plan.Step{ID: "kube/x", Change: tc.was}
			if tc.observed {
				saved.ObservedDigest = "sha256:0"
			}
			got := difference(saved, tc.now)
			if got != tc.want {
				t.Errorf("difference:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// differences names every step that is gone or differs, five at most.
func TestDifferencesCapsTheList(t *testing.T) {
	saved, now := &plan.Plan{}, &plan.Plan{}
	for _, id := range []step.ID{"a", "b", "c", "d", "e", "f", "g"} {
		saved.Steps = append(saved.Steps, plan.Step{ID: id, Change: step.Change{Action: step.Create}})
		now.Steps = append(now.Steps, plan.Step{ID: id, Change: step.Change{Action: step.None}})
	}
	now.Steps = now.Steps[1:]
	e := differences(saved, now)
	if e == nil {
		t.Fatal("differences: none")
	}
	got := e.Reasons
	if len(got) != 6 || got[0] != "the plan had 7 steps, it now has 6" || got[1] != "step a is gone" || got[5] != "…" {
		t.Errorf("differences: %s", strings.Join(got, "; "))
	}
	if len(e.Steps) != 7 || e.Steps[0].ID != "a" || e.Steps[0].Now != nil {
		t.Errorf("differences: steps %+v", e.Steps)
	}
}
