package plan

import (
	"fmt"
	"io"
	"strings"
)

// Formats are the names of the plan's renderings, as -o takes them.
func Formats() []string { return []string{"text", "json", "markdown", "mermaid"} }

// Render writes the plan in the named format: text, json, markdown or
// mermaid. Color applies to text only.
func Render(w io.Writer, p *Plan, format string, color bool) error {
	switch format {
	case "text", "":
		return RenderText(w, p, TextOptions{Color: color})
	case "json":
		return RenderJSON(w, p)
	case "markdown", "md":
		return RenderMarkdown(w, p)
	case "mermaid":
		return RenderMermaid(w, p)
	default:
		return fmt.Errorf("unknown output format %q (want %s)", format, strings.Join(Formats(), ", "))
	}
}
