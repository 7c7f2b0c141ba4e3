package plan

import (
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/step"
)

// TextOptions tune RenderText.
type TextOptions struct {
	// Color adds ANSI colours; only for terminals.
	Color bool
}

// RenderText writes the plan for a terminal, like a Terraform plan: per
// phase, one line per step with its symbol, then the fields it sets or
// changes, the files it writes, and for runs and conflicts the reason.
// Unchanged steps are counted per phase, not listed.
func RenderText(w io.Writer, p *Plan, opts TextOptions) error {
	t := textWriter{color: opts.Color}
	t.line("homelab plan %q for inventory %q", p.PlanFile.Name, p.Inventory.Name)
	switch n := p.ObservedSteps(); {
	case p.Observed:
	case n == 0:
		t.line("Not observed: the lab was not read, so every step shows what it would do on an empty lab.")
	default:
		t.line("Partly observed: %d of %d steps read the lab; the others show what they would do on an empty lab.", n, len(p.Steps))
	}
	t.line("")
	t.line("Symbols: + create  ~ update  - delete  > run  ! conflict  = unchanged")
	index := stepIndex(p)
	for _, ph := range p.Phases {
		t.line("")
		t.line("%s", t.paint(bold, fmt.Sprintf("Phase %s (%s): %s", ph.Name, ph.Kind, ph.Description)))
		unchanged := 0
		t.idWidth = 0
		for _, id := range ph.Steps {
			t.idWidth = min(max(t.idWidth, len(id)), 40)
		}
		for _, id := range ph.Steps {
			s := &p.Steps[index[id]]
			if s.Change.Action == step.None {
				unchanged++
				continue
			}
			t.step(s)
		}
		if unchanged > 0 {
			t.line("  = %d unchanged", unchanged)
		}
	}
	sum := p.Summary()
	t.line("")
	t.line("Plan: %d to create, %d to change, %d to delete, %d to run, %d unchanged, %d conflicts.",
		sum.Create, sum.Update, sum.Delete, sum.Run, sum.None, sum.Conflict)
	if sum.Conflict > 0 {
		t.line("%s", t.paint(red, "The plan cannot be applied until the conflicts are resolved: homelab never changes what is not its own."))
	}
	_, err := io.WriteString(w, t.b.String())
	return err
}

type textWriter struct {
	b     strings.Builder
	color bool
	// idWidth aligns the descriptions of one phase's steps.
	idWidth int
}

const (
	bold   = "1"
	red    = "31"
	green  = "32"
	yellow = "33"
	blue   = "34"
	dim    = "2"
)

func (t *textWriter) paint(code, s string) string {
	if !t.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (t *textWriter) line(format string, args ...any) {
	fmt.Fprintf(&t.b, format, args...)
	t.b.WriteByte('\n')
}

func actionColor(a step.Action) string {
	switch a {
	case step.Create:
		return green
	case step.Update:
		return yellow
	case step.Delete, step.Conflict:
		return red
	case step.Run:
		return blue
	default:
		return dim
	}
}

func (t *textWriter) step(s *Step) {
	a := s.Change.Action
	id := fmt.Sprintf("%-*s", t.idWidth, s.ID)
	t.line("  %s  %s", t.paint(actionColor(a), a.String()+" "+id), s.Description)
	width := 0
	for _, f := range s.Change.Fields {
		width = max(width, len(f.Name))
	}
	for _, f := range s.Change.Fields {
		old, new := f.Old, f.New
		if f.Sensitive {
			old, new = step.Redacted, step.Redacted
		}
		switch {
		case a == step.Update || (f.Old != "" && f.New != ""):
			t.line("      %-*s  %q -> %q", width, f.Name, old, new)
		case a == step.Delete:
			t.line("      %-*s  %q", width, f.Name, old)
		default:
			t.line("      %-*s = %q", width, f.Name, new)
		}
	}
	for _, f := range s.Change.Files {
		lines := strings.Count(f.Content, "\n")
		if f.Diff != "" {
			t.line("      ~ file %s:%s (%s)", f.Host, f.Path, f.Mode)
			for _, l := range strings.Split(strings.TrimRight(f.Diff, "\n"), "\n") {
				t.line("          %s", l)
			}
			continue
		}
		t.line("      + file %s:%s (%s, %d lines)", f.Host, f.Path, f.Mode, lines)
	}
	if s.Change.Reason != "" {
		t.line("      (%s)", s.Change.Reason)
	}
	for _, id := range s.Assumes {
		t.line("      assumes %s is done (its phase is not in this plan)", id)
	}
}

// stepIndex maps step IDs to their index in p.Steps.
func stepIndex(p *Plan) map[step.ID]int {
	index := make(map[step.ID]int, len(p.Steps))
	for i, s := range p.Steps {
		index[s.ID] = i
	}
	return index
}
