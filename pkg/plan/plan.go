package plan

import (
	"github.com/homelabctl/homelab/pkg/step"
)

// FormatVersion is the version of the plan's JSON form. It changes only
// when a field changes meaning or goes away; new fields do not change it.
// Version 2: the replace action (before, a rebuild was an update), the
// summary, homelab_version, and saved plans' paths relative to the plan
// file.
const FormatVersion = 2

// Plan is a compiled plan: the steps that would run, in phase order, each
// with the change it would make. It is data: renderers show it, Save writes
// it, and the engine runs its Graph.
type Plan struct {
	FormatVersion int `json:"format_version"`
	// HomelabVersion is the version of the homelab that made the plan
	// (pkg/homelab sets it).
	HomelabVersion string `json:"homelab_version"`
	// Inventory and PlanFile name what the plan was compiled from, with
	// digests so that applying a saved plan can refuse stale inputs.
	Inventory Source `json:"inventory"`
	PlanFile  Source `json:"plan"`
	// Replace names the guests the plan may rebuild when a change cannot
	// be made in place (pkg/homelab sets it); applying a saved plan uses
	// the same list.
	Replace []string `json:"replace,omitempty"`
	// Observed is false for a plan compiled without reading the lab: its
	// changes are those of an empty lab.
	Observed bool `json:"observed"`
	// Counts is the plan's Summary, written with its JSON form so that
	// tools need not count; views count the steps themselves.
	Counts *Summary `json:"summary,omitempty"`
	Phases []Phase  `json:"phases"`
	Steps  []Step   `json:"steps"`
	// Unreachable lists the Proxmox nodes the plan found offline and the
	// guests they hold: those guests' steps are skipped, and a run of the
	// plan ends degraded.
	Unreachable []UnreachableNode `json:"unreachable,omitempty"`
	// Backup is the backup of the Kubernetes cluster a run of the plan
	// takes before it destroys a control plane (a replace of a
	// control-plane guest); nil when the plan destroys none.
	Backup *Backup `json:"backup,omitempty"`

	graph *step.Graph
}

// Backup is the backup of the cluster a run takes first because it
// destroys control planes: what `homelab backup` takes, written into a new
// <endpoint>-<UTC time> directory under Dir. When no control plane answers
// then, there is nothing to back up and the run goes on.
type Backup struct {
	// ControlPlanes are the control-plane guests the run destroys.
	ControlPlanes []string `json:"control_planes"`
	// Dir is the inventory's kubernetes.backup_dir; empty when it sets
	// none: the run then stops before the first of them is destroyed if
	// a control plane answers.
	Dir string `json:"dir,omitempty"`
	// OptedOut says no backup is taken (--no-backup).
	OptedOut bool `json:"opted_out,omitempty"`
}

// UnreachableNode is a Proxmox node that was offline when the plan read
// the lab, with the inventory's guests on it.
type UnreachableNode struct {
	Node   string   `json:"node"`
	Guests []string `json:"guests"`
}

// Source is a file a plan was compiled from.
type Source struct {
	Name string `json:"name"`
	// Path is the file's path: as given on the command line in a plan
	// made now, relative to the plan file's directory (or absolute) in a
	// saved plan (see Save and LoadSaved); empty for a built-in plan.
	Path string `json:"path"`
	// Builtin says the plan file is built into homelab, known by Name.
	Builtin bool   `json:"builtin,omitempty"`
	Digest  string `json:"digest"`
}

// Phase is one phase of the plan, in order.
type Phase struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Description string    `json:"description"`
	Steps       []step.ID `json:"steps"`
}

// Step is a step as the plan shows it.
type Step struct {
	ID          step.ID `json:"id"`
	Phase       string  `json:"phase"`
	Description string  `json:"description"`
	// Needs are the steps of this plan that must be done first.
	Needs []step.ID `json:"needs,omitempty"`
	// Assumes are needs on steps of phases this plan does not run: the
	// plan assumes they are already done.
	Assumes []step.ID   `json:"assumes,omitempty"`
	Locks   []step.Lock `json:"locks,omitempty"`
	Change  step.Change `json:"change"`
	// ObservedDigest is a digest of what was observed; a saved plan is
	// applied only if observing again gives the same digest.
	ObservedDigest string `json:"observed_digest,omitempty"`
}

// Summary counts the plan's steps by action. A replace (deleted, then
// created again) is counted in Replace and also in Create and Delete, so
// that a policy on deletes or creates sees it.
type Summary struct {
	Create   int `json:"create"`
	Update   int `json:"update"`
	Delete   int `json:"delete"`
	Replace  int `json:"replace"`
	Run      int `json:"run"`
	None     int `json:"none"`
	Conflict int `json:"conflict"`
	// Skip counts the steps of guests on offline Proxmox nodes.
	Skip int `json:"skip"`
}

// Graph returns the step graph the plan was compiled into; nil for a plan
// read back from JSON.
func (p *Plan) Graph() *step.Graph { return p.graph }

// Summary counts the steps by action.
func (p *Plan) Summary() Summary {
	var s Summary
	for i := range p.Steps {
		s.add(p.Steps[i].Change.Action)
	}
	return s
}

// add counts one step of action a.
func (s *Summary) add(a step.Action) {
	switch a {
	case step.Create:
		s.Create++
	case step.Update:
		s.Update++
	case step.Delete:
		s.Delete++
	case step.Replace:
		s.Replace++
		s.Create++
		s.Delete++
	case step.Run:
		s.Run++
	case step.None:
		s.None++
	case step.Conflict:
		s.Conflict++
	case step.Skip:
		s.Skip++
	}
}

// HasChanges reports whether the lab differs from the inventory: a step
// would create, change, replace or delete something, found a conflict, or
// is skipped (its guest's Proxmox node is offline). Gates and waits (run)
// are no changes.
func (p *Plan) HasChanges() bool {
	for _, st := range p.Steps {
		if a := st.Change.Action; a.Changes() || a == step.Conflict || a == step.Skip {
			return true
		}
	}
	return false
}

// Step returns the plan's step with the given ID.
func (p *Plan) Step(id step.ID) (*Step, bool) {
	for i := range p.Steps {
		if p.Steps[i].ID == id {
			return &p.Steps[i], true
		}
	}
	return nil, false
}
