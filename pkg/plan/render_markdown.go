package plan

import (
	"fmt"
	"html"
	"io"
	"path"
	"strings"

	"github.com/homelabctl/homelab/pkg/step"
)

// RenderMarkdown writes the plan for merge-request review: a title, what it
// was compiled from and whether the lab was observed, the conflicts first
// when there are any, a summary table (steps by action, per phase and in
// total), then per phase a table of the steps that change something
// (symbol, ID, description, fields, reason, assumptions) with the unchanged
// steps and the files each step writes in collapsible blocks, and last the
// step graph as a mermaid block (the text of RenderMermaid), which GitLab
// and GitHub draw.
//
// Text from the plan is escaped for the place it lands in (table cell, code
// span, HTML summary, fenced block), and sensitive fields are shown as
// step.Redacted whatever they hold.
func RenderMarkdown(w io.Writer, p *Plan) error {
	phases, err := layout(p)
	if err != nil {
		return err
	}
	var graph strings.Builder
	if err := RenderMermaid(&graph, p); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# homelab plan %s for inventory %s\n\n", codeSpan(p.PlanFile.Name), codeSpan(p.Inventory.Name))
	if src := mdSources(p); src != "" {
		fmt.Fprintf(&b, "%s\n\n", src)
	}
	switch n := p.ObservedSteps(); {
	case p.Observed:
		fmt.Fprintf(&b, "> **Observed:** every step read the lab; the changes below are what a run would do now.%s\n\n", freshNote(p))
	case n == 0:
		b.WriteString("> **Not observed:** the lab was not read, so the changes below are those of an empty lab. A run observes first and changes only what differs.\n\n")
	default:
		fmt.Fprintf(&b, "> **Partly observed:** %d of %d steps read the lab; the others show what they would do on an empty lab.\n\n", n, len(p.Steps))
	}
	mdConflicts(&b, phases)
	mdSummary(&b, p, phases)
	for i, ph := range phases {
		mdPhase(&b, i+1, ph)
	}
	b.WriteString("## Graph\n\n")
	b.WriteString("Each arrow runs from a step to a step that needs it; a step starts as soon as all it needs are done.")
	if hasAssumptions(p) {
		b.WriteString(" Dashed arrows come from steps outside this plan, assumed done.")
	}
	b.WriteString("\n\n")
	b.WriteString(fenced("mermaid", graph.String()))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("render plan as Markdown: %w", err)
	}
	return nil
}

// mdSources names the files the plan was compiled from, when known.
func mdSources(p *Plan) string {
	var parts []string
	for _, s := range []Source{p.Inventory, p.PlanFile} {
		var part string
		switch {
		case s.Builtin:
			part = "the built-in plan " + codeSpan(s.Name)
		case s.Path == "":
			continue
		default:
			part = codeSpan(s.Path)
		}
		if s.Digest != "" {
			part += " (" + codeSpan(shortDigest(s.Digest)) + ")"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	return "Compiled from " + strings.Join(parts, " and ") + "."
}

// shortDigest keeps the algorithm and the first 12 hex digits.
func shortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return algo + ":" + hex[:12]
}

// mdConflicts lists every conflict up front: they block the whole plan.
func mdConflicts(b *strings.Builder, phases []phaseView) {
	var lines []string
	for _, ph := range phases {
		for _, s := range ph.steps {
			if s.Change.Action != step.Conflict {
				continue
			}
			line := "> - " + codeSpan(string(s.ID)) + ": " + mdText(s.Description)
			if s.Change.Reason != "" {
				line += " (" + mdText(s.Change.Reason) + ")"
			}
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "> [!CAUTION]\n> **%d %s: the plan cannot be applied until %s resolved.** homelab never changes what is not its own.\n>\n",
		len(lines), plural(len(lines), "conflict", "conflicts"), plural(len(lines), "it is", "they are"))
	b.WriteString(strings.Join(lines, "\n"))
	b.WriteString("\n\n")
}

// mdSummary writes the counts by action, one row per phase and a total.
func mdSummary(b *strings.Builder, p *Plan, phases []phaseView) {
	b.WriteString("## Summary\n\n")
	b.WriteString("| phase | kind | `+` create | `~` update | `-` delete | `>` run | `=` unchanged | `!` conflict |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, ph := range phases {
		s := tally(ph.steps)
		fmt.Fprintf(b, "| %s | %s | %d | %d | %d | %d | %d | %d |\n", cellCode(ph.phase.Name), mdText(ph.phase.Kind),
			s.Create, s.Update, s.Delete, s.Run, s.None, s.Conflict)
	}
	s := p.Summary()
	fmt.Fprintf(b, "| **total** | | **%d** | **%d** | **%d** | **%d** | **%d** | **%d** |\n\n",
		s.Create, s.Update, s.Delete, s.Run, s.None, s.Conflict)
	if s.Replace > 0 {
		fmt.Fprintf(b, "> [!WARNING]\n> `-/+` %s\n\n", mdText(replaceNote(s.Replace)))
	}
	if p.Backup != nil {
		fmt.Fprintf(b, "> [!WARNING]\n> %s\n\n", mdText(p.Backup.Note()))
	}
	if s.Skip > 0 || len(p.Unreachable) > 0 {
		fmt.Fprintf(b, "> [!WARNING]\n> **Degraded:** %d %s skipped (`/`): their guests' Proxmox nodes are offline.\n", s.Skip, plural(s.Skip, "step is", "steps are"))
		for _, u := range p.Unreachable {
			fmt.Fprintf(b, "> - node %s holds %s\n", codeSpan(u.Node), mdText(strings.Join(u.Guests, ", ")))
		}
		b.WriteString("\n")
	}
	var assumed []string
	seen := map[step.ID]bool{}
	for _, st := range p.Steps {
		for _, id := range st.Assumes {
			if !seen[id] {
				seen[id] = true
				assumed = append(assumed, codeSpan(string(id)))
			}
		}
	}
	if len(assumed) > 0 {
		fmt.Fprintf(b, "Assumed done, because their phases are not in this plan: %s.\n\n", strings.Join(assumed, ", "))
	}
}

// mdPhase writes one phase: its table of changing steps, its unchanged
// steps and its files.
func mdPhase(b *strings.Builder, n int, ph phaseView) {
	fmt.Fprintf(b, "## Phase %d: %s\n\n", n, codeSpan(ph.phase.Name))
	fmt.Fprintf(b, "Kind %s: %s\n\n", codeSpan(ph.phase.Kind), mdText(ph.phase.Description))
	var changing, unchanged []*Step
	for _, s := range ph.steps {
		if s.Change.Action == step.None {
			unchanged = append(unchanged, s)
		} else {
			changing = append(changing, s)
		}
	}
	if len(ph.steps) == 0 {
		b.WriteString("_No steps._\n\n")
	}
	if len(changing) > 0 {
		b.WriteString("| | step | description | changes |\n|:-:|---|---|---|\n")
		for _, s := range changing {
			what := mdText(s.Description)
			switch s.Change.Action {
			case step.Conflict:
				what = "**conflict:** " + what
			case step.Replace:
				what = "**replace:** " + what
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", cellCode(s.Change.Action.String()), cellCode(string(s.ID)), what, mdChanges(s))
		}
		b.WriteString("\n")
	}
	if len(unchanged) > 0 {
		fmt.Fprintf(b, "<details><summary>%d unchanged %s</summary>\n\n", len(unchanged), plural(len(unchanged), "step", "steps"))
		for _, s := range unchanged {
			fmt.Fprintf(b, "- %s %s\n", codeSpan(string(s.ID)), mdText(s.Description))
		}
		b.WriteString("\n</details>\n\n")
	}
	for _, s := range changing {
		for _, f := range s.Change.Files {
			mdFile(b, s, f)
		}
	}
}

// mdChanges is the changes cell of a step: fields, files, reason and
// assumptions, one per line.
func mdChanges(s *Step) string {
	a := s.Change.Action
	var parts []string
	for _, f := range s.Change.Fields {
		old, new := shownValues(f)
		switch fieldFormOf(a, f) {
		case formChange:
			parts = append(parts, fmt.Sprintf("%s: %s → %s", mdText(f.Name), mdValue(f, old), mdValue(f, new)))
		case formRemove:
			parts = append(parts, fmt.Sprintf("%s: %s", mdText(f.Name), mdValue(f, old)))
		default:
			parts = append(parts, fmt.Sprintf("%s: %s", mdText(f.Name), mdValue(f, new)))
		}
	}
	for _, f := range s.Change.Files {
		parts = append(parts, fmt.Sprintf("%s file %s", fileSymbol(a, f), cellCode(f.Host+":"+f.Path)))
	}
	if s.Change.Reason != "" {
		parts = append(parts, "_"+mdText(s.Change.Reason)+"_")
	}
	for _, id := range s.Assumes {
		parts = append(parts, "assumes "+cellCode(string(id))+" is done")
	}
	return strings.Join(parts, "<br>")
}

// mdValue shows a field value in a table cell: a code span, or the bare
// step.Redacted marker for a sensitive field.
func mdValue(f step.Field, v string) string {
	switch {
	case f.Sensitive:
		return "_" + mdText(step.Redacted) + "_"
	case v == "":
		return "_(empty)_"
	default:
		return cellCode(v)
	}
}

// fileSymbol is + for a file written anew, ~ for one that differs, - for one
// a deleting step removes.
func fileSymbol(a step.Action, f step.File) string {
	switch {
	case f.Diff != "":
		return "~"
	case a == step.Delete:
		return "-"
	default:
		return "+"
	}
}

// mdFile writes a file in a collapsible block: its diff when it differs,
// then its content in full.
func mdFile(b *strings.Builder, s *Step, f step.File) {
	sym := fileSymbol(s.Change.Action, f)
	fmt.Fprintf(b, "<details><summary><code>%s</code> file <code>%s</code> (%s, %s) from <code>%s</code></summary>\n\n",
		sym, htmlText(f.Host+":"+f.Path), htmlText(f.Mode), lineCount(f.Content), htmlText(string(s.ID)))
	if f.Diff != "" {
		b.WriteString("Changes to the file on the host:\n\n")
		b.WriteString(fenced("diff", f.Diff))
		b.WriteString("\nThe file after the change:\n\n")
	}
	b.WriteString(fenced(fenceLanguage(f.Path), f.Content))
	b.WriteString("\n</details>\n\n")
}

// fenceLanguage names the highlighting for a file, from its extension.
func fenceLanguage(p string) string {
	switch path.Ext(p) {
	case ".yaml", ".yml":
		return "yaml"
	case ".json":
		return "json"
	case ".sh":
		return "sh"
	case ".toml":
		return "toml"
	default:
		return ""
	}
}

// fenced puts text in a fenced code block whose fence is longer than any
// run of backticks in it, so no content can close the block early.
func fenced(lang, text string) string {
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return fence + lang + "\n" + text + fence + "\n"
}

// codeSpan puts text in an inline code span outside a table: delimiters
// longer than any backtick run in it, padded when it starts or ends with a
// backtick, newlines as spaces. Empty text becomes an empty pair of quotes.
func codeSpan(s string) string {
	s = oneLine(s)
	if s == "" {
		s = `""`
	}
	delim := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return delim + s + delim
}

// cellCode is codeSpan inside a table cell, where a pipe must be escaped
// even within code.
func cellCode(s string) string { return strings.ReplaceAll(codeSpan(s), "|", `\|`) }

// mdText escapes prose for a table cell, a list item or a paragraph: every
// character that Markdown (CommonMark with GitLab's and GitHub's extensions:
// tables, strikethrough, math) reads as markup within a line is
// backslash-escaped, and lines are joined.
func mdText(s string) string {
	s = oneLine(s)
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>&|~#$", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// htmlText escapes text for inline HTML, such as a <summary>.
func htmlText(s string) string { return html.EscapeString(oneLine(s)) }

// oneLine joins lines with spaces and escapes other control characters.
func oneLine(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return clean(s)
}

func longestRun(s string, c rune) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

func hasAssumptions(p *Plan) bool {
	for _, s := range p.Steps {
		if len(s.Assumes) > 0 {
			return true
		}
	}
	return false
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
