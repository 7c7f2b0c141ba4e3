package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/homelabctl/homelab/pkg/plan"
)

func newShowCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show PLAN.json",
		Short: "Render a plan saved with plan --out",
		Long: `show reads a saved plan and renders it as plan does: text, JSON, Markdown
or Mermaid. It reads only the file: neither the lab nor the inventory. The
paths it shows are as saved, relative to the plan file; -o json prints the
saved plan as it is.`,
		Example: `  homelab plan -i inventories/small.yaml --offline --out plan.json
  homelab show plan.json
  homelab show plan.json -o markdown > plan.md`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(_ *cobra.Command, args []string) error {
			if !validFormat(output) {
				return &usageError{fmt.Errorf("-o %s: want one of %s", output, strings.Join(plan.Formats(), ", "))}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			p, err := plan.ReadSaved(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return plan.Render(g.stdout, p, output, g.color(g.stdout))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "rendering: "+strings.Join(plan.Formats(), ", "))
	return cmd
}
