package step

import (
	"encoding/json"
	"fmt"
	"time"
)

// Action is what a step would do after observing. Its String is the symbol
// people see in a plan.
type Action int

// The actions, in the order a plan summary lists them.
const (
	// None: the resource exists and matches; nothing to do.
	None Action = iota
	// Create: the resource does not exist and will be created.
	Create
	// Update: the resource exists and is ours; the listed fields change.
	Update
	// Delete: the resource is ours and will be removed.
	Delete
	// Run: an action that always runs, such as a gate or a command.
	Run
	// Conflict: the resource exists but is not ours, or differs in a way
	// homelab may not fix. A conflict is an error, never an overwrite.
	Conflict
	// Skip: the resource cannot be reached in this run (its Proxmox node
	// is offline); the step does nothing and the run ends degraded.
	Skip
	// Replace: the resource is ours and cannot change in place; it is
	// deleted and created again (asked for with --replace). A replace is
	// a delete and a create: plans count it in both.
	Replace
)

var actionSymbols = [...]string{None: "=", Create: "+", Update: "~", Delete: "-", Run: ">", Conflict: "!", Skip: "/", Replace: "-/+"}
var actionNames = [...]string{None: "none", Create: "create", Update: "update", Delete: "delete", Run: "run", Conflict: "conflict", Skip: "skip", Replace: "replace"}

// String returns the symbol shown in plans: = + ~ - > ! / -/+.
func (a Action) String() string {
	if a < 0 || int(a) >= len(actionSymbols) {
		return "?"
	}
	return actionSymbols[a]
}

// Name returns the action's word: none, create, update, delete, run,
// conflict, skip, replace.
func (a Action) Name() string {
	if a < 0 || int(a) >= len(actionNames) {
		return fmt.Sprintf("action(%d)", int(a))
	}
	return actionNames[a]
}

// Changes reports whether the action changes anything in the lab. Run
// (a gate, a wait) looks and waits on every run and changes nothing by
// itself: a plan of only Run and None steps is converged.
func (a Action) Changes() bool { return a == Create || a == Update || a == Delete || a == Replace }

// Deletes reports whether the action removes something: a delete, or a
// replace (deleted, then created again).
func (a Action) Deletes() bool { return a == Delete || a == Replace }

// Creates reports whether the action makes something new: a create, or a
// replace.
func (a Action) Creates() bool { return a == Create || a == Replace }

// Actions returns every action, in the order of their values.
func Actions() []Action { return []Action{None, Create, Update, Delete, Run, Conflict, Replace} }

// ParseAction is the inverse of Name.
func ParseAction(name string) (Action, error) {
	for i, n := range actionNames {
		if n == name {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("unknown action %q", name)
}

// MarshalJSON writes the action as its name.
func (a Action) MarshalJSON() ([]byte, error) { return json.Marshal(a.Name()) }

// UnmarshalJSON reads an action written by MarshalJSON.
func (a *Action) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseAction(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Redacted is what a sensitive value is shown as, everywhere.
const Redacted = "(sensitive)"

// Field is one attribute of a change: its value before and after. For a
// Create, Old is empty; for a Delete, New is empty; for a Replace, the
// fields that cannot change in place, with both.
type Field struct {
	Name string `json:"name"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
	// Sensitive fields are never shown; Old and New hold Redacted.
	Sensitive bool `json:"sensitive,omitempty"`
}

// File is a file the step would write on a host, rendered in full so that
// reviewers read exactly what will be installed.
type File struct {
	Host string `json:"host"`
	Path string `json:"path"`
	Mode string `json:"mode"`
	// Content is the rendered file with every secret replaced by Redacted.
	Content string `json:"content"`
	// Diff is a unified diff from the file on the host to Content, when
	// the file exists and differs (also redacted).
	Diff string `json:"diff,omitempty"`
}

// Change is what a step would do: its action, the fields it sets or
// changes, the files it writes, and for a conflict or a run, why.
type Change struct {
	Action Action  `json:"action"`
	Fields []Field `json:"fields,omitempty"`
	Files  []File  `json:"files,omitempty"`
	Reason string  `json:"reason,omitempty"`
	// Fresh says the step could not read its resource yet (a guest still
	// to be created or started does not answer SSH, a cluster still to be
	// made does not answer kubectl): the change is what a new one needs.
	Fresh bool `json:"fresh,omitempty"`
	// Passed, on a gate's Run, is what the gate saw when it looked while
	// a plan observed and found what it waits for ("" when it did not, or
	// did not look; see Wait.Observe). A run that takes this observation
	// instead of observing again (nothing the gate needs changed since)
	// does not look again. It is not part of a saved plan: applying one
	// observes again.
	Passed string `json:"-"`
	// PassedAt is when the gate saw it (with Passed): a look older than
	// PassedFresh is not trusted (an `up` that waited for its approval).
	PassedAt time.Time `json:"-"`
}

// Unread returns c as the change of a step that could not read its
// resource yet (see Fresh), saying why.
func (c Change) Unread(reason string) Change {
	c.Reason, c.Fresh = reason, true
	return c
}

// SensitiveField returns a field whose value is never shown.
func SensitiveField(name string) Field {
	return Field{Name: name, New: Redacted, Sensitive: true}
}

// Set returns a Field for a Create: name is set to value.
func Set(name, value string) Field { return Field{Name: name, New: value} }
