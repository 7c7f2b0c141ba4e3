package plan

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/homelabctl/homelab/pkg/step"
)

// TextOptions tune RenderText.
type TextOptions struct {
	// Color adds ANSI colours. Set it only when writing to a terminal.
	Color bool
}

// RenderText writes the plan for a terminal, like a Terraform plan: a
// header that names the plan and the inventory and says whether the lab was
// observed; then, phase by phase in plan order, one line per step (symbol,
// ID, description) with the fields it sets or changes, the files it writes
// (a unified diff for a file that exists and differs), the reason of a run
// or a conflict, and the steps it assumes done outside the plan. Unchanged
// steps are counted per phase, not listed. A summary line ends the plan.
//
// Sensitive fields are shown as step.Redacted whatever they hold. Control
// characters in any text are escaped, so a plan cannot drive the terminal.
// The output is the same, byte for byte, for the same plan.
func RenderText(w io.Writer, p *Plan, opts TextOptions) error {
	phases, err := layout(p)
	if err != nil {
		return err
	}
	t := &textWriter{color: opts.Color}
	t.header(p)
	for _, ph := range phases {
		t.phase(ph)
	}
	t.footer(p)
	if _, err := io.WriteString(w, t.b.String()); err != nil {
		return fmt.Errorf("render plan as text: %w", err)
	}
	return nil
}

// maxHeadWidth caps the column that a step's symbol and ID are padded
// to (a one-character symbol, a space and 40 characters of ID); a longer
// one pushes its own description right and leaves the others aligned.
const maxHeadWidth = 42

// ANSI SGR codes of the text view.
const (
	bold   = "1"
	dim    = "2"
	red    = "31"
	green  = "32"
	yellow = "33"
	blue   = "34"
	cyan   = "36"
)

// textWriter accumulates the text view of one plan.
type textWriter struct {
	b     strings.Builder
	color bool
}

func (t *textWriter) paint(code, s string) string {
	if !t.color || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (t *textWriter) line(format string, args ...any) {
	fmt.Fprintf(&t.b, format, args...)
	t.b.WriteByte('\n')
}

func (t *textWriter) header(p *Plan) {
	t.line("%s", t.paint(bold, fmt.Sprintf("homelab plan %s for inventory %s", quote(p.PlanFile.Name), quote(p.Inventory.Name))))
	switch n := p.ObservedSteps(); {
	case p.Observed:
		t.line("Observed: every step read the lab; the changes below are what a run would do now.%s", freshNote(p))
	case n == 0:
		t.line("%s", t.paint(yellow, "NOT OBSERVED: the lab was not read, so the changes below are those of an empty lab."))
		t.line("A run observes first and changes only what differs.")
	default:
		t.line("%s", t.paint(yellow, fmt.Sprintf("PARTLY OBSERVED: %d of %d steps read the lab; the others show what they would do on an empty lab.", n, len(p.Steps))))
	}
	for _, u := range p.Unreachable {
		t.line("%s", t.paint(yellow, fmt.Sprintf("DEGRADED: Proxmox node %s is offline; its guests %s are skipped (/) and a run ends degraded.",
			clean(u.Node), clean(strings.Join(u.Guests, ", ")))))
	}
	if p.Backup != nil {
		color := yellow
		if p.Backup.OptedOut || p.Backup.Dir == "" {
			color = red
		}
		t.line("%s", t.paint(color, clean(p.Backup.Note())))
	}
	t.line("")
	t.line("Symbols: + create  ~ update  - delete  -/+ replace  > run  ! conflict  = unchanged")
}

func (t *textWriter) phase(ph phaseView) {
	t.line("")
	t.line("%s", t.paint(bold, fmt.Sprintf("Phase %s (%s): %s", clean(ph.phase.Name), clean(ph.phase.Kind), clean(ph.phase.Description))))
	width, unchanged := 0, 0
	for _, s := range ph.steps {
		if s.Change.Action == step.None {
			unchanged++
			continue
		}
		width = max(width, min(utf8.RuneCountInString(s.Change.Action.String()+" "+clean(string(s.ID))), maxHeadWidth))
	}
	for _, s := range ph.steps {
		if s.Change.Action != step.None {
			t.step(s, width)
		}
	}
	switch {
	case len(ph.steps) == 0:
		t.line("  (no steps)")
	case unchanged > 0:
		t.line("  %s", t.paint(dim, fmt.Sprintf("= %d unchanged", unchanged)))
	}
}

func (t *textWriter) step(s *Step, width int) {
	a := s.Change.Action
	head := a.String() + " " + clean(string(s.ID))
	pad := strings.Repeat(" ", max(0, width-utf8.RuneCountInString(head)))
	t.line("  %s%s  %s", t.paint(actionColor(a), head), pad, clean(s.Description))
	t.fields(a, s.Change.Fields)
	for _, f := range s.Change.Files {
		t.file(a, f)
	}
	if s.Change.Reason != "" {
		code := dim
		if a == step.Conflict {
			code = red
		}
		t.line("      %s", t.paint(code, "# "+clean(s.Change.Reason)))
	}
	for _, id := range s.Assumes {
		t.line("      %s", t.paint(dim, fmt.Sprintf("assumes %s is done (its phase is not in this plan)", clean(string(id)))))
	}
}

// fields writes a step's fields: `name = "value"` when set, `name: "old" ->
// "new"` when changed, names padded so that values line up.
func (t *textWriter) fields(a step.Action, fields []step.Field) {
	width := 0
	for _, f := range fields {
		width = max(width, utf8.RuneCountInString(clean(f.Name)))
	}
	for _, f := range fields {
		name := clean(f.Name)
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(name))
		old, new := shownValues(f)
		switch fieldFormOf(a, f) {
		case formChange:
			t.line("      %s:%s %s -> %s", name, pad, textValue(f, old), textValue(f, new))
		case formRemove:
			t.line("      %s%s = %s", name, pad, textValue(f, old))
		default:
			t.line("      %s%s = %s", name, pad, textValue(f, new))
		}
	}
}

// file writes one file line and, for a file that differs, its diff.
func (t *textWriter) file(a step.Action, f step.File) {
	where := clean(f.Host) + ":" + clean(f.Path)
	switch {
	case f.Diff != "":
		t.line("      %s", t.paint(yellow, fmt.Sprintf("~ file %s (%s, %s)", where, clean(f.Mode), lineCount(f.Content))))
		for _, l := range strings.Split(strings.TrimRight(f.Diff, "\n"), "\n") {
			t.line("          %s", t.paint(diffColor(l), clean(l)))
		}
	case a == step.Delete:
		t.line("      %s", t.paint(red, "- file "+where))
	default:
		t.line("      %s", t.paint(green, fmt.Sprintf("+ file %s (%s, %s)", where, clean(f.Mode), lineCount(f.Content))))
	}
}

func (t *textWriter) footer(p *Plan) {
	sum := p.Summary()
	t.line("")
	t.line("%s", t.paint(bold, fmt.Sprintf("Plan: %d to create, %d to change, %d to delete, %d to run, %d unchanged, %d conflicts.",
		sum.Create, sum.Update, sum.Delete, sum.Run, sum.None, sum.Conflict)))
	if sum.Replace > 0 {
		t.line("%s", t.paint(red, replaceNote(sum.Replace)))
	}
	if sum.Skip > 0 {
		t.line("%s", t.paint(yellow, fmt.Sprintf("Degraded: %d steps are skipped (/): their guests' Proxmox nodes are offline.", sum.Skip)))
	}
	switch {
	case sum.Conflict > 0:
		t.line("%s", t.paint(red, "The plan cannot be applied until its conflicts are resolved: homelab never changes what is not its own."))
	case !p.Observed:
		t.line("Not observed: the counts are those of an empty lab.")
	case !p.HasChanges():
		t.line("No changes: the lab already matches the inventory.")
	}
}

// replaceNote says how many steps replace what they manage, and that the
// counts hold them twice.
func replaceNote(n int) string {
	return fmt.Sprintf("%d to replace: deleted, then created again (counted in both create and delete).", n)
}

func actionColor(a step.Action) string {
	switch a {
	case step.Create:
		return green
	case step.Update:
		return yellow
	case step.Delete, step.Conflict, step.Replace:
		return red
	case step.Run:
		return blue
	case step.Skip:
		return yellow
	default:
		return dim
	}
}

func diffColor(line string) string {
	switch {
	case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
		return bold
	case strings.HasPrefix(line, "+"):
		return green
	case strings.HasPrefix(line, "-"):
		return red
	case strings.HasPrefix(line, "@@"):
		return cyan
	default:
		return ""
	}
}

// textValue shows a literal value quoted and a sensitive one as the bare
// step.Redacted marker, so the two cannot be mistaken for each other.
func textValue(f step.Field, v string) string {
	if f.Sensitive {
		return step.Redacted
	}
	return quote(v)
}

// quote quotes s as Go does, which escapes every control character.
func quote(s string) string { return fmt.Sprintf("%q", s) }

// clean escapes control characters (escape sequences, newlines, carriage
// returns), bidirectional overrides and invalid UTF-8, so that text from the
// plan cannot move the cursor, recolour a terminal or reorder what is shown.
// Tabs are kept.
func clean(s string) string {
	if !strings.ContainsFunc(s, isUnsafe) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isUnsafe(r) {
			q := quote(string(r))
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isUnsafe(r rune) bool {
	return r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError)
}

// lineCount says how many lines content has: "1 line", "12 lines".
func lineCount(content string) string {
	n := strings.Count(content, "\n")
	if content != "" && !strings.HasSuffix(content, "\n") {
		n++
	}
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}

// The helpers below are shared by the text, Markdown and Mermaid views.

// phaseView is one phase of a plan with its steps, as the views walk it.
type phaseView struct {
	phase *Phase
	steps []*Step
}

// layout groups the plan's steps by phase, in plan order, and checks that
// the plan is whole: step IDs unique, every step in exactly one phase, every
// need a step of the plan. A plan read back from JSON may have been edited;
// the views refuse a broken one rather than draw it wrongly.
func layout(p *Plan) ([]phaseView, error) {
	index := make(map[step.ID]int, len(p.Steps))
	for i, s := range p.Steps {
		if _, dup := index[s.ID]; dup {
			return nil, fmt.Errorf("render plan: step %s appears twice", s.ID)
		}
		index[s.ID] = i
	}
	placed := make([]bool, len(p.Steps))
	out := make([]phaseView, len(p.Phases))
	for k := range p.Phases {
		ph := &p.Phases[k]
		out[k].phase = ph
		for _, id := range ph.Steps {
			i, ok := index[id]
			if !ok {
				return nil, fmt.Errorf("render plan: phase %s lists step %s, which the plan does not hold", ph.Name, id)
			}
			if placed[i] {
				return nil, fmt.Errorf("render plan: step %s is listed twice by the phases", id)
			}
			placed[i] = true
			out[k].steps = append(out[k].steps, &p.Steps[i])
		}
	}
	for i, s := range p.Steps {
		if !placed[i] {
			return nil, fmt.Errorf("render plan: step %s is in no phase", s.ID)
		}
		for _, need := range s.Needs {
			if _, ok := index[need]; !ok {
				return nil, fmt.Errorf("render plan: step %s needs %s, which the plan does not hold", s.ID, need)
			}
		}
	}
	return out, nil
}

// tally counts steps by action.
func tally(steps []*Step) Summary {
	var s Summary
	for _, st := range steps {
		s.add(st.Change.Action)
	}
	return s
}

// shownValues returns what a view may show of a field: its values, or
// step.Redacted for both when the field is sensitive, whatever it holds.
func shownValues(f step.Field) (old, new string) {
	if f.Sensitive {
		return step.Redacted, step.Redacted
	}
	return f.Old, f.New
}

// fieldForm is how a field is shown.
type fieldForm int

const (
	formSet    fieldForm = iota // the value it is set to
	formChange                  // old -> new
	formRemove                  // the value that goes away
)

// fieldFormOf picks a field's form from its step's action: changed in an
// update, removed in a delete, set otherwise; a field of any other action
// that has both values (a conflict showing what differs) is a change.
func fieldFormOf(a step.Action, f step.Field) fieldForm {
	switch {
	case a == step.Update:
		return formChange
	case a == step.Delete:
		return formRemove
	case f.Old != "" && f.New != "":
		return formChange
	default:
		return formSet
	}
}
