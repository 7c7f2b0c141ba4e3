package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// --target, as Terraform's -target: a run or plan of some steps and every
// step they need, for recovering from a mistake, not for every day.

func addTargetFlag(cmd *cobra.Command, targets *[]string) {
	cmd.Flags().StringSliceVar(targets, "target", nil, "only this guest's steps or this step ID, and every step they need (repeatable; a partial run)")
}

// resolveTargets turns --target values into the plan's steps: a step ID
// names itself; a guest's name names every step of that guest, those
// whose ID has the guest's name or its DNS name as one of its parts.
func resolveTargets(inv *inventory.Inventory, p *plan.Plan, targets []string) ([]step.ID, error) {
	var ids []step.ID
	for _, t := range targets {
		if slices.ContainsFunc(p.Steps, func(s plan.Step) bool { return string(s.ID) == t }) {
			ids = append(ids, step.ID(t))
			continue
		}
		if !slices.ContainsFunc(inv.Guests, func(g inventory.Guest) bool { return g.Name == t }) {
			return nil, &usageError{fmt.Errorf("--target %s: neither a guest of inventory %q nor a step of the plan (homelab plan --offline lists the steps)", t, inv.Name)}
		}
		var found bool
		for _, s := range p.Steps {
			if slices.ContainsFunc(strings.Split(string(s.ID), "/"), func(part string) bool { return part == t || part == inv.FQDN(t) }) {
				ids = append(ids, s.ID)
				found = true
			}
		}
		if !found {
			return nil, &usageError{fmt.Errorf("--target %s: the plan has no step of guest %s", t, t)}
		}
	}
	return ids, nil
}

// narrow applies --target to p, warning on stderr that the plan is
// partial; with no targets it returns p.
func (g *globals) narrow(inv *inventory.Inventory, p *plan.Plan, targets []string) (*plan.Plan, error) {
	if len(targets) == 0 {
		return p, nil
	}
	ids, err := resolveTargets(inv, p, targets)
	if err != nil {
		return nil, err
	}
	q, err := p.Targeted(ids)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(g.stderr, "Warning: --target: a partial plan, %d of the %d steps (%s, and every step those need).\n"+
		"The rest of the lab is neither checked nor changed: use --target to recover from a mistake or a failure, not routinely.\n",
		len(q.Steps), len(p.Steps), strings.Join(targets, ", "))
	return q, nil
}

// completeTargets completes the inventory's guest names and the step IDs
// of the plan compiled offline.
func (g *globals) completeTargets(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if g.inventory == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	g.stderr = io.Discard
	p, err := g.compile(cmd.Context(), target{offline: true})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	inv, err := g.load(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, guest := range inv.Guests {
		out = append(out, guest.Name)
	}
	for _, s := range p.Steps {
		out = append(out, string(s.ID))
	}
	out = slices.DeleteFunc(out, func(s string) bool { return !strings.HasPrefix(s, toComplete) })
	return out, cobra.ShellCompDirectiveNoFileComp
}
