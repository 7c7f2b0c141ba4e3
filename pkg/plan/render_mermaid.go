package plan

import (
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/step"
)

// RenderMermaid writes the plan's step graph as a Mermaid flowchart, read
// left to right:
//
//   - one subgraph per phase, in plan order, with ids p0, p1, … and the
//     phase name as title (and its kind when the two differ);
//   - one node per step, with ids s0, s1, … in the order of the plan's
//     steps (step IDs hold characters Mermaid ids may not), labelled with
//     the action symbol and the step ID, and classed by action: create,
//     update, delete, run, none, conflict or replace;
//   - one solid edge "a --> b" per need, from the step needed to the step
//     that needs it;
//   - when steps assume steps outside the plan (their phases are not in
//     it), one more subgraph "outside" with one node per assumed step (ids
//     a0, a1, … in order of first mention, class assumed) and one dashed
//     edge "a0 -.-> s3" per assumption.
//
// Labels are quoted, with Mermaid's entity codes for the characters that
// would end or change them (#quot; for a double quote). The same plan
// always gives the same text.
func RenderMermaid(w io.Writer, p *Plan) error {
	phases, err := layout(p)
	if err != nil {
		return err
	}
	node := make(map[step.ID]string, len(p.Steps))
	for i, s := range p.Steps {
		node[s.ID] = fmt.Sprintf("s%d", i)
	}
	var assumed []step.ID
	outside := map[step.ID]string{}
	for _, s := range p.Steps {
		for _, id := range s.Assumes {
			if _, seen := outside[id]; !seen {
				outside[id] = fmt.Sprintf("a%d", len(assumed))
				assumed = append(assumed, id)
			}
		}
	}

	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, ph := range phases {
		title := ph.phase.Name
		if ph.phase.Kind != ph.phase.Name {
			title += " (" + ph.phase.Kind + ")"
		}
		fmt.Fprintf(&b, "  subgraph p%d[\"%s\"]\n", i, mermaidText(title))
		for _, s := range ph.steps {
			a := s.Change.Action
			fmt.Fprintf(&b, "    %s[\"%s\"]:::%s\n", node[s.ID], mermaidText(a.String()+" "+string(s.ID)), a.Name())
		}
		b.WriteString("  end\n")
	}
	if len(assumed) > 0 {
		b.WriteString("  subgraph outside[\"outside this plan, assumed done\"]\n")
		for _, id := range assumed {
			fmt.Fprintf(&b, "    %s[\"%s\"]:::assumed\n", outside[id], mermaidText(string(id)))
		}
		b.WriteString("  end\n")
	}
	for _, s := range p.Steps {
		for _, need := range s.Needs {
			fmt.Fprintf(&b, "  %s --> %s\n", node[need], node[s.ID])
		}
	}
	for _, s := range p.Steps {
		for _, id := range s.Assumes {
			fmt.Fprintf(&b, "  %s -.-> %s\n", outside[id], node[s.ID])
		}
	}
	b.WriteString("  classDef create fill:#e6f4ea,stroke:#1e8e3e\n")
	b.WriteString("  classDef update fill:#fef7e0,stroke:#f9ab00\n")
	b.WriteString("  classDef delete fill:#fce8e6,stroke:#d93025\n")
	b.WriteString("  classDef run fill:#e8f0fe,stroke:#1a73e8\n")
	b.WriteString("  classDef none fill:#f1f3f4,stroke:#9aa0a6\n")
	b.WriteString("  classDef conflict fill:#fce8e6,stroke:#d93025,stroke-width:3px\n")
	b.WriteString("  classDef replace fill:#fce8e6,stroke:#d93025,stroke-dasharray:6 3\n")
	if len(assumed) > 0 {
		b.WriteString("  classDef assumed fill:#ffffff,stroke:#9aa0a6,stroke-dasharray:4 3\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("render plan as Mermaid: %w", err)
	}
	return nil
}

// mermaidText escapes text for a quoted Mermaid label: the characters that
// would end the label, open HTML or markdown, read as an entity code or as
// edge text are written as entity codes; line breaks and other control characters as
// spaces.
func mermaidText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '#':
			b.WriteString("#35;")
		case r == '"':
			b.WriteString("#quot;")
		case r == '<':
			b.WriteString("#lt;")
		case r == '>':
			b.WriteString("#gt;")
		case r == '&':
			b.WriteString("#amp;")
		case r == '`':
			b.WriteString("#96;")
		case r == '|':
			b.WriteString("#124;")
		case r == '\t' || isUnsafe(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
