package view

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// Status writes desired against observed, one row per resource (step):
// in sync, missing, drifted (with the fields), a conflict (with why), a
// gate, or not observed (its phase has no client yet).
func Status(w io.Writer, p *plan.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tRESOURCE\tSTATE\tDETAIL")
	counts := map[string]int{}
	for _, s := range p.Steps {
		state, detail := statusOf(s)
		counts[state]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Phase, s.ID, state, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var parts []string
	for _, state := range []string{"in sync", "missing", "drifted", "conflict", "gate", "not observed"} {
		if counts[state] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[state], state))
		}
	}
	_, err := fmt.Fprintf(w, "\n%d resources: %s.\n", len(p.Steps), strings.Join(parts, ", "))
	return err
}

func statusOf(s plan.Step) (state, detail string) {
	if s.ObservedDigest == "" {
		return "not observed", "its phase cannot read the lab yet"
	}
	switch s.Change.Action {
	case step.None:
		return "in sync", ""
	case step.Create:
		return "missing", ""
	case step.Update, step.Delete, step.Replace:
		names := make([]string, len(s.Change.Fields))
		for i, f := range s.Change.Fields {
			if f.Sensitive {
				names[i] = f.Name + " (sensitive)"
				continue
			}
			names[i] = fmt.Sprintf("%s: %q -> %q", f.Name, f.Old, f.New)
		}
		return "drifted", strings.Join(names, "; ")
	case step.Conflict:
		return "conflict", s.Change.Reason
	case step.Skip:
		return "unreachable", s.Change.Reason
	default:
		return "gate", s.Change.Reason
	}
}
