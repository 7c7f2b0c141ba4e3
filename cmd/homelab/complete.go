package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/plan"
)

// Completion of flag values (cobra's completion command writes the shell
// scripts; these say what a value may be).

// completeValues completes a flag from a fixed list.
func completeValues(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeYAML completes a file name ending in .yaml or .yml.
func completeYAML(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}

// completeGuests completes the names of the inventory's guests (read from
// -i or $HOMELAB_INVENTORY; nothing when it does not load), leaving out
// those already given, in earlier --replace flags or before a comma.
func (g *globals) completeGuests(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if g.inventory == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	inv, _, err := homelab.Load(cmd.Context(), g.inventory)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	given, _ := cmd.Flags().GetStringSlice("replace")
	before, partial := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		before, partial = toComplete[:i+1], toComplete[i+1:]
		given = append(given, strings.Split(before, ",")...)
	}
	var names []string
	for _, guest := range inv.Guests {
		if !slices.Contains(given, guest.Name) && strings.HasPrefix(guest.Name, partial) {
			names = append(names, before+guest.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// registerCompletions says how each command's flag values complete.
func registerCompletions(root *cobra.Command, g *globals) {
	_ = root.RegisterFlagCompletionFunc("inventory", completeYAML)
	for _, cmd := range root.Commands() {
		if cmd.Flags().Lookup("plan") != nil {
			_ = cmd.RegisterFlagCompletionFunc("plan", completeYAML)
		}
		if cmd.Flags().Lookup("target") != nil {
			_ = cmd.RegisterFlagCompletionFunc("target", g.completeTargets)
		}
		if cmd.Flags().Lookup("replace") != nil {
			_ = cmd.RegisterFlagCompletionFunc("replace", g.completeGuests)
		}
		if cmd.Flags().Lookup("output") != nil {
			formats := []string{"text", "json"}
			if cmd.Name() == "plan" || cmd.Name() == "show" {
				formats = plan.Formats()
			}
			_ = cmd.RegisterFlagCompletionFunc("output", completeValues(formats...))
		}
	}
}
