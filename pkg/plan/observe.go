package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/homelabctl/homelab/pkg/step"
)

// Observe asks every step that can observe (its phase has a client) what
// it would change, up to parallel at once, and records the change and a
// digest of it. Observing only reads. Steps that cannot observe keep their
// intent. Observed is set when every step observed. The steps observe in
// one pass (step.WithPass): a menu, a cluster list or a host's facts that
// several steps read is read once.
func Observe(ctx context.Context, p *Plan, parallel int) error {
	ctx = step.WithPass(ctx)
	if p.graph == nil {
		return errors.New("observe: the plan has no step graph (a saved plan must be compiled again)")
	}
	index := make(map[string]int, len(p.Steps))
	for i, s := range p.Steps {
		index[string(s.ID)] = i
	}
	// Every step's failure is reported, not only the first: the group
	// bounds the fan-out, and the errors are collected beside it.
	var reads []step.HostRead
	for _, s := range p.graph.Steps() {
		if hr, ok := s.Work.(step.HostReader); ok {
			reads = append(reads, hr.HostReads()...)
		}
	}
	step.Declare(ctx, reads)
	var g errgroup.Group
	g.SetLimit(max(parallel, 1))
	var mu sync.Mutex
	var errs []error
	observed := 0
	for _, s := range p.graph.Steps() {
		if s.Work == nil {
			continue
		}
		observed++
		g.Go(func() error {
			change, err := s.Work.Observe(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("observe %s: %w", s.ID, err))
				return nil
			}
			ps := &p.Steps[index[string(s.ID)]]
			ps.Change = change
			ps.ObservedDigest = digest(change)
			return nil
		})
	}
	_ = g.Wait() // every goroutine returns nil; errs holds what failed
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	p.Observed = observed == len(p.Steps) && observed > 0
	return nil
}

// FreshSteps counts the steps that found their resource not answering yet
// and show what a fresh one needs.
func (p *Plan) FreshSteps() int {
	n := 0
	for _, s := range p.Steps {
		if s.Change.Fresh {
			n++
		}
	}
	return n
}

// freshNote says how many steps could not read their guest yet, or "".
func freshNote(p *Plan) string {
	n := p.FreshSteps()
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" %d of them could not read what they manage yet (a guest still to be created or started, a cluster still to be made) and show what a new one needs.", n)
}

// Observations are the changes the steps observed, by step ID (steps that
// did not observe are left out): engine.Options.Observed, so that a run
// reuses them instead of reading the lab again.
func (p *Plan) Observations() map[step.ID]step.Change {
	out := make(map[step.ID]step.Change, len(p.Steps))
	for _, s := range p.Steps {
		if s.ObservedDigest != "" {
			out[s.ID] = s.Change
		}
	}
	return out
}

// ObservedSteps counts the steps that read the lab.
func (p *Plan) ObservedSteps() int {
	n := 0
	for _, s := range p.Steps {
		if s.ObservedDigest != "" {
			n++
		}
	}
	return n
}

func digest(c any) string {
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
