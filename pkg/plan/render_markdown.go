package plan

import (
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/step"
)

// RenderMarkdown writes the plan for merge-request review: a summary, a
// table of steps per phase, the files each step writes in collapsible
// blocks, and the step graph as a mermaid block that GitLab and GitHub draw.
func RenderMarkdown(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# homelab plan `%s` for `%s`\n\n", p.PlanFile.Name, p.Inventory.Name)
	switch n := p.ObservedSteps(); {
	case p.Observed:
	case n == 0:
		b.WriteString("> **Not observed:** the lab was not read, so every step shows what it would do on an empty lab.\n\n")
	default:
		fmt.Fprintf(&b, "> **Partly observed:** %d of %d steps read the lab; the others show what they would do on an empty lab.\n\n", n, len(p.Steps))
	}
	sum := p.Summary()
	b.WriteString("| create | update | delete | run | unchanged | conflicts |\n|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d |\n\n", sum.Create, sum.Update, sum.Delete, sum.Run, sum.None, sum.Conflict)
	if sum.Conflict > 0 {
		b.WriteString("> [!WARNING]\n> The plan has conflicts: it cannot be applied until they are resolved.\n\n")
	}
	index := stepIndex(p)
	for _, ph := range p.Phases {
		fmt.Fprintf(&b, "## Phase `%s` (%s)\n\n%s\n\n", ph.Name, ph.Kind, mdCell(ph.Description))
		b.WriteString("| | step | what | changes |\n|---|---|---|---|\n")
		for _, id := range ph.Steps {
			s := &p.Steps[index[id]]
			a := s.Change.Action
			what := mdCell(s.Description)
			if a == step.Conflict {
				what = "**conflict:** " + what
			}
			fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", a, mdCode(string(s.ID)), what, mdChanges(s))
		}
		b.WriteString("\n")
		for _, id := range ph.Steps {
			s := &p.Steps[index[id]]
			for _, f := range s.Change.Files {
				body, lang := f.Content, ""
				if f.Diff != "" {
					body, lang = f.Diff, "diff"
				}
				fence := strings.Repeat("`", max(3, longestBacktickRun(body)+1))
				fmt.Fprintf(&b, "<details><summary><code>%s</code>: <code>%s:%s</code> (%s)</summary>\n\n%s%s\n%s\n%s\n\n</details>\n\n",
					s.ID, f.Host, f.Path, f.Mode, fence, lang, strings.TrimRight(body, "\n"), fence)
			}
		}
	}
	b.WriteString("## Graph\n\n```mermaid\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := RenderMermaid(w, p); err != nil {
		return err
	}
	_, err := io.WriteString(w, "```\n")
	return err
}

// mdChanges summarises a step's fields, reason and assumptions for a cell.
func mdChanges(s *Step) string {
	var parts []string
	for _, f := range s.Change.Fields {
		v := f.New
		if s.Change.Action == step.Delete {
			v = f.Old
		}
		if f.Sensitive {
			v = step.Redacted
		}
		if s.Change.Action == step.Update || (f.Old != "" && f.New != "") {
			old := f.Old
			if f.Sensitive {
				old = step.Redacted
			}
			parts = append(parts, fmt.Sprintf("%s: `%s` → `%s`", mdCell(f.Name), mdCode(old), mdCode(v)))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: `%s`", mdCell(f.Name), mdCode(v)))
	}
	if s.Change.Reason != "" {
		parts = append(parts, "_"+mdCell(s.Change.Reason)+"_")
	}
	for _, id := range s.Assumes {
		parts = append(parts, fmt.Sprintf("assumes `%s`", id))
	}
	return strings.Join(parts, "<br>")
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "'").Replace(s)
	return s
}

// mdCode makes text safe inside a single-backtick code span in a table.
func mdCode(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}

func longestBacktickRun(s string) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}
