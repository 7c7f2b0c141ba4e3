package main

import (
	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/pkg/schema"
)

func newSchemaCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "schema inventory|plan",
		Short: "Print the JSON Schema of the inventory or of plan JSON",
		Long: `schema prints a JSON Schema (draft 2020-12), made from homelab's Go types:
of the inventory, for editors (yaml-language-server reads the line
"# yaml-language-server: $schema=PATH" at the top of an inventory), or of
the plan's JSON form, for tools that read plan -o json or plan --out. The
same files are in docs/.`,
		Example: `  homelab schema inventory > inventory.schema.json
  homelab schema plan > plan.schema.json`,
		Args:      usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		ValidArgs: schema.Names(),
		RunE: func(_ *cobra.Command, args []string) error {
			b, err := schema.Generate(args[0])
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
}
