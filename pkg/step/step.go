// Package step holds the vocabulary every other part of homelab shares: a step
// (one unit of work on one resource), the change a step would make, and the
// small generic graph of steps and their needs.
//
// Phase packages (proxmox, routeros, loadbalancer, kubeadm) produce steps; the
// plan package compiles them into a Graph; the engine runs the Graph. None of
// those packages needs to know the others: they meet here.
package step

import (
	"context"
	"io"
)

// ID is a step's stable identifier, a slash-separated path that names the
// resource the step works on, such as "guest/lb-1", "router/lease/lb-1" or
// "kube/gate/vip-ready". IDs are the same on every compile of the same
// inventory and plan, so saved plans and journals can refer to them.
type ID string

// Lock is a key a step holds while it runs and the number of steps that may
// hold that key at once. Steps that name the same key must agree on the
// capacity; the compiler checks that.
type Lock struct {
	// Key names the shared thing, such as "proxmox/node/pve-s1" or
	// "proxmox/template/debian-12-cloud".
	Key string `json:"key"`
	// Capacity is how many steps may hold Key at the same time (at least 1).
	Capacity int `json:"capacity"`
}

// Step is one unit of work on one resource. A step reads like a recipe: what
// it is, what it needs, what it locks, and how it observes and applies.
type Step struct {
	// ID is the step's stable identifier.
	ID ID
	// Phase is the name of the plan phase the step belongs to.
	Phase string
	// Description says in a few words what the step does, for people.
	Description string
	// Needs lists the steps that must be done before this one starts.
	Needs []ID
	// Locks lists the keys the step holds while it runs.
	Locks []Lock
	// Intent is the change the step makes on an empty lab: Create for a
	// resource, Run for an action or a gate. Offline plans show it.
	Intent Change
	// Work observes and applies the step; nil while a phase is not yet wired
	// to its provider, in which case the step can be planned but not run.
	Work Work
}

// Work is the observe/apply pair behind a step.
type Work interface {
	// Observe reads the real state and returns what Apply would change.
	// It must not change anything.
	Observe(ctx context.Context) (Change, error)
	// Apply makes the change that Observe returned. Lines of output (a
	// command's stdout, a task log) are written to out.
	Apply(ctx context.Context, change Change, out io.Writer) error
}

// Adopter is the work of a step whose object may exist without homelab's
// mark (made by hand or by another tool): homelab adopt marks such an
// object as homelab's and changes nothing else.
type Adopter interface {
	// ObserveAdopt reads the object and returns Update with the mark's
	// fields when it matches the step by identity and carries no mark
	// (it can be adopted), Conflict when it clashes with the step but does
	// not match, and None when there is nothing to adopt (it is absent, or
	// already homelab's). It must not change anything.
	ObserveAdopt(ctx context.Context) (Change, error)
	// Adopt observes again and, if the object can still be adopted, sets
	// the mark and nothing else.
	Adopt(ctx context.Context, out io.Writer) error
}
