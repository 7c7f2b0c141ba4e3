package plan

import (
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/step"
)

// RenderMermaid writes the plan's step graph as a Mermaid flowchart: one
// subgraph per phase, one node per step labelled with its symbol and ID,
// one edge per need (from the step needed to the step that needs it), and
// a class per action. Needs on steps outside the plan (assumptions) are
// not drawn; the text and Markdown views list them.
func RenderMermaid(w io.Writer, p *Plan) error {
	var b strings.Builder
	index := stepIndex(p)
	nodeID := make(map[step.ID]string, len(p.Steps))
	for i, s := range p.Steps {
		nodeID[s.ID] = fmt.Sprintf("s%d", i)
	}
	b.WriteString("flowchart LR\n")
	for i, ph := range p.Phases {
		fmt.Fprintf(&b, "  subgraph p%d[\"%s (%s)\"]\n", i, mermaidText(ph.Name), mermaidText(ph.Kind))
		for _, id := range ph.Steps {
			s := &p.Steps[index[id]]
			fmt.Fprintf(&b, "    %s[\"%s\"]:::%s\n", nodeID[id], mermaidText(s.Change.Action.String()+" "+string(id)), s.Change.Action.Name())
		}
		b.WriteString("  end\n")
	}
	for _, s := range p.Steps {
		for _, need := range s.Needs {
			fmt.Fprintf(&b, "  %s --> %s\n", nodeID[need], nodeID[s.ID])
		}
	}
	b.WriteString("  classDef create fill:#e6f4ea,stroke:#1e8e3e\n")
	b.WriteString("  classDef update fill:#fef7e0,stroke:#f9ab00\n")
	b.WriteString("  classDef delete fill:#fce8e6,stroke:#d93025\n")
	b.WriteString("  classDef run fill:#e8f0fe,stroke:#1a73e8\n")
	b.WriteString("  classDef none fill:#f1f3f4,stroke:#9aa0a6\n")
	b.WriteString("  classDef conflict fill:#fce8e6,stroke:#d93025,stroke-width:3px\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidText escapes text for a quoted Mermaid label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}
