package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/homelabctl/homelab/plans"
)

// File is a plan file: an ordered list of phases.
type File struct {
	// Name identifies the plan; it defaults to the file's base name.
	Name        string
	Description string
	Phases      []PhaseRef
	// Path is where the plan was read from; empty for a built-in plan.
	Path string
	// Builtin says the plan is one of those built into homelab (package
	// plans), known by its Name.
	Builtin bool
	// Digest is "sha256:<hex>" of the file's bytes.
	Digest string
}

// PhaseRef is one entry of a plan file's phases list.
type PhaseRef struct {
	// Name is how the plan calls the phase (defaults to Kind).
	Name string
	// Kind names a registered phase kind: network, guests, loadbalancers,
	// kubernetes.
	Kind string
	// Line and Col locate the entry in the plan file, for errors.
	Line, Col int
}

// FileError is a problem in a plan file, at a position.
type FileError struct {
	Path      string
	Line, Col int
	Field     string
	Message   string
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.Path, e.Line, e.Col, e.Field, e.Message)
}

// Open returns the plan file ref names: the built-in default plan
// (plans.Default) for "", the built-in plan of that name for a bare name
// (no path separator, no .yaml or .yml), else the file at path ref.
func Open(ref string) (*File, error) {
	switch {
	case ref == "":
		return Builtin(plans.Default)
	case !strings.ContainsAny(ref, `/\`) && !strings.HasSuffix(ref, ".yaml") && !strings.HasSuffix(ref, ".yml"):
		return Builtin(ref)
	default:
		return LoadFile(ref)
	}
}

// Builtin returns the built-in plan called name (see package plans).
func Builtin(name string) (*File, error) {
	data, ok := plans.Read(name)
	if !ok {
		return nil, fmt.Errorf("no built-in plan %q (built in: %s; a plan file is a path such as plans/%s.yaml)", name, strings.Join(plans.Names(), ", "), name)
	}
	f, err := ParseFile("built-in plan "+name, data)
	if err != nil {
		return nil, err
	}
	f.Path, f.Builtin = "", true
	return f, nil
}

// LoadFile reads and checks a plan file's form. Whether its phase kinds
// exist and are in a valid order is checked by Compile.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	return ParseFile(path, data)
}

// ParseFile parses a plan file held in memory; path is used in errors.
func ParseFile(path string, data []byte) (*File, error) {
	sum := sha256.Sum256(data)
	f := &File{Path: path, Digest: "sha256:" + hex.EncodeToString(sum[:])}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	fail := func(n *yaml.Node, field, format string, args ...any) {
		errs = append(errs, &FileError{Path: path, Line: n.Line, Col: n.Column, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if len(doc.Content) == 0 {
		return nil, &FileError{Path: path, Line: 1, Col: 1, Field: "phases", Message: "the plan is empty: list at least one phase"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &FileError{Path: path, Line: root.Line, Col: root.Column, Field: "(document)", Message: "a plan file is a mapping with name, description and phases"}
	}
	var phases *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		switch key.Value {
		case "name":
			f.Name = scalar(val, "name", fail)
		case "description":
			f.Description = scalar(val, "description", fail)
		case "phases":
			phases = val
		default:
			fail(key, key.Value, "unknown field %q (a plan file has name, description and phases)", key.Value)
		}
	}
	if phases == nil {
		fail(root, "phases", "missing: list the phases to run, in order")
	} else if phases.Kind != yaml.SequenceNode || len(phases.Content) == 0 {
		fail(phases, "phases", "must be a list of at least one phase")
	} else {
		for i, p := range phases.Content {
			if ref, ok := parsePhase(p, fmt.Sprintf("phases[%d]", i), fail); ok {
				f.Phases = append(f.Phases, ref)
			}
		}
	}
	seen := map[string]PhaseRef{}
	for i, p := range f.Phases {
		if prev, dup := seen[p.Kind]; dup {
			errs = append(errs, &FileError{Path: path, Line: p.Line, Col: p.Col, Field: fmt.Sprintf("phases[%d].kind", i),
				Message: fmt.Sprintf("phase kind %q is already in the plan at line %d", p.Kind, prev.Line)})
		}
		seen[p.Kind] = p
	}
	if f.Name == "" {
		f.Name = baseName(path)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// parsePhase reads a phase entry: either a kind alone ("- network") or a
// mapping with kind and an optional name.
func parsePhase(n *yaml.Node, field string, fail func(*yaml.Node, string, string, ...any)) (PhaseRef, bool) {
	ref := PhaseRef{Line: n.Line, Col: n.Column}
	switch n.Kind {
	case yaml.ScalarNode:
		ref.Kind = n.Value
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			switch key.Value {
			case "kind":
				ref.Kind = scalar(val, field+".kind", fail)
				ref.Line, ref.Col = val.Line, val.Column
			case "name":
				ref.Name = scalar(val, field+".name", fail)
			default:
				fail(key, field+"."+key.Value, "unknown field %q (a phase has kind and name)", key.Value)
			}
		}
	default:
		fail(n, field, "a phase is a kind (network) or a mapping with kind and name")
		return ref, false
	}
	if ref.Kind == "" {
		fail(n, field+".kind", "missing: name the phase kind (network, guests, loadbalancers, kubernetes)")
		return ref, false
	}
	if ref.Name == "" {
		ref.Name = ref.Kind
	}
	return ref, true
}

func scalar(n *yaml.Node, field string, fail func(*yaml.Node, string, string, ...any)) string {
	if n.Kind != yaml.ScalarNode {
		fail(n, field, "must be a single value")
		return ""
	}
	return n.Value
}

func baseName(path string) string {
	name := path[strings.LastIndex(path, "/")+1:]
	name, _ = strings.CutSuffix(name, ".yaml")
	name, _ = strings.CutSuffix(name, ".yml")
	return name
}
