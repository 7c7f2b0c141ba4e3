package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// RenderJSON writes the plan as indented JSON. The same form is the saved
// plan: docs/plan-json.md documents every field. Fields appear in a fixed
// order, so the output of the same plan is byte-for-byte the same.
func RenderJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("render plan as JSON: %w", err)
	}
	return nil
}

// Save writes the plan to path as JSON, readable only by its owner: a plan
// holds no secrets, but it maps the lab.
func Save(path string, p *Plan) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	if err := RenderJSON(f, p); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return nil
}

// ReadSaved reads a plan written by Save. It refuses a plan of another
// format version. The plan it returns has no graph: to apply it, compile
// the same inventory and plan file again and compare (see pkg/homelab).
func ReadSaved(r io.Reader) (*Plan, error) {
	var p Plan
	dec := json.NewDecoder(r)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("read saved plan: %w", err)
	}
	if p.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("read saved plan: format_version %d, but this homelab reads version %d", p.FormatVersion, FormatVersion)
	}
	return &p, nil
}
