package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/homelabctl/homelab/pkg/step"
)

// RenderJSON writes the plan as indented JSON. The same form is the saved
// plan: docs/plan-json.md documents every field. Fields appear in a fixed
// order, so the output of the same plan is byte-for-byte the same.
func RenderJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	out := *p
	sum := p.Summary()
	out.Counts = &sum
	// Lists are lists, also when empty (a plan built by hand or read
	// back may hold nil ones): the schema says so.
	out.Phases = slices.Clone(p.Phases)
	for i := range out.Phases {
		if out.Phases[i].Steps == nil {
			out.Phases[i].Steps = []step.ID{}
		}
	}
	if out.Phases == nil {
		out.Phases = []Phase{}
	}
	if out.Steps == nil {
		out.Steps = []Step{}
	}
	if err := enc.Encode(&out); err != nil {
		return fmt.Errorf("render plan as JSON: %w", err)
	}
	return nil
}

// Save writes the plan to path as JSON, readable only by its owner: a plan
// holds no secrets, but it maps the lab. The inventory's and the plan
// file's paths are written relative to path's directory (absolute ones
// stay absolute), so the saved plan applies from any working directory
// and moves with the files beside it; LoadSaved reads them back.
func Save(path string, p *Plan) error {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	saved := *p
	for _, src := range []*Source{&saved.Inventory, &saved.PlanFile} {
		if src.Path, err = relativeTo(dir, src.Path); err != nil {
			return fmt.Errorf("save plan: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	if err := RenderJSON(f, &saved); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return nil
}

// relativeTo returns a relative path (from the working directory) as a
// path relative to dir, with forward slashes; an empty or absolute path as
// it is.
func relativeTo(dir, path string) (string, error) {
	if path == "" || filepath.IsAbs(path) {
		return path, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return abs, nil // another volume: only the absolute path reaches it
	}
	return filepath.ToSlash(rel), nil
}

// LoadSaved reads a plan Save wrote to path and resolves its files' paths
// against path's directory, so that they can be opened from the working
// directory.
func LoadSaved(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read saved plan: %w", err)
	}
	defer f.Close()
	p, err := ReadSaved(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, src := range []*Source{&p.Inventory, &p.PlanFile} {
		if src.Path != "" && !filepath.IsAbs(filepath.FromSlash(src.Path)) {
			src.Path = filepath.Join(filepath.Dir(path), filepath.FromSlash(src.Path))
		}
	}
	return p, nil
}

// ReadSaved reads a plan written by Save, with its paths as written
// (relative to the saved plan's directory; LoadSaved resolves them). It
// refuses a plan of another format version, and one whose summary does
// not add up to its steps (an edited plan). The plan it returns has no
// graph: to apply it, compile the same inventory and plan file again and
// compare (see pkg/homelab).
func ReadSaved(r io.Reader) (*Plan, error) {
	var p Plan
	dec := json.NewDecoder(r)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("read saved plan: %w", err)
	}
	switch {
	case p.FormatVersion < FormatVersion:
		return nil, fmt.Errorf("read saved plan: format_version %d was written by an older homelab; this one reads version %d: make the plan again", p.FormatVersion, FormatVersion)
	case p.FormatVersion != FormatVersion:
		return nil, fmt.Errorf("read saved plan: format_version %d, but this homelab reads version %d", p.FormatVersion, FormatVersion)
	}
	if p.Counts != nil && *p.Counts != p.Summary() {
		return nil, fmt.Errorf("read saved plan: its summary %+v does not add up to its steps (%+v): the plan was edited", *p.Counts, p.Summary())
	}
	return &p, nil
}
