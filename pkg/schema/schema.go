// Package schema makes the JSON Schemas (draft 2020-12) of homelab's two
// documents from their Go types: the inventory (YAML, pkg/inventory) and
// the plan's JSON form (pkg/plan). Editors read the inventory's schema
// through the yaml-language-server line at the top of an inventory; tools
// that read plans validate them against the plan's. docs/ holds both, as
// Generate makes them (a test keeps them equal).
//
// Field descriptions are the Go doc comments of the types, kept in
// comments.json (a test extracts them from the source again and fails
// when they differ), so that a binary without the source makes the same
// schemas.
package schema

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

// Names are the schemas Generate makes.
func Names() []string { return []string{"inventory", "plan"} }

// File is the name of a schema's file in docs/.
func File(name string) string { return name + ".schema.json" }

//go:embed comments.json
var commentsJSON []byte

// Generate returns the named schema ("inventory" or "plan") as indented
// JSON ending in a newline; the same bytes on every call.
func Generate(name string) ([]byte, error) {
	comments := map[string]string{}
	if err := json.Unmarshal(commentsJSON, &comments); err != nil {
		return nil, fmt.Errorf("schema: comments.json: %w", err)
	}
	s, err := generate(name, comments, nil)
	if err != nil {
		return nil, err
	}
	return marshal(s)
}

// generate reflects the named schema; used, when set, records the comment
// keys the descriptions came from.
func generate(name string, comments map[string]string, used map[string]bool) (*jsonschema.Schema, error) {
	r := &jsonschema.Reflector{
		Anonymous:  true,
		Mapper:     mapType,
		CommentMap: comments,
		LookupComment: func(t reflect.Type, field string) string {
			key := t.PkgPath() + "." + t.Name()
			if field != "" {
				key += "." + field
			}
			if used != nil && comments[key] != "" {
				used[key] = true
			}
			return ""
		},
	}
	var s *jsonschema.Schema
	switch name {
	case "inventory":
		// The inventory is YAML, decoded strictly by its yaml tags: an
		// unknown key is an error, every key may be left out (defaults
		// and validation say what must be there; the most basic of those
		// rules are written into the schema below).
		r.FieldNameTag = "yaml"
		r.RequiredFromJSONSchemaTags = true
		s = r.Reflect(&inventory.Inventory{})
		s.Title = "homelab inventory"
		s.Description = "What the lab is: Proxmox VE nodes and templates, the router, networks, guests, the load balancer and the Kubernetes cluster. See docs/inventory.md."
		if err := refine(s, inventoryRules()); err != nil {
			return nil, err
		}
	case "plan":
		// New fields may appear within a format version: readers ignore
		// what they do not know, and so does the schema.
		r.AllowAdditionalProperties = true
		s = r.Reflect(&plan.Plan{})
		s.Title = "homelab plan"
		s.Description = fmt.Sprintf("A plan as homelab plan -o json prints it and plan --out saves it (format_version %d). See docs/plan-json.md.", plan.FormatVersion)
		if err := refine(s, planRules()); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("no schema %q (want %s)", name, strings.Join(Names(), " or "))
	}
	return s, nil
}

func marshal(s *jsonschema.Schema) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return append(b, '\n'), nil
}

// mapType gives the schemas of the types that are written as text.
func mapType(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeFor[netip.Addr]():
		return &jsonschema.Schema{Type: "string", Description: "an IP address",
			AnyOf: []*jsonschema.Schema{{Format: "ipv4"}, {Format: "ipv6"}}}
	case reflect.TypeFor[netip.Prefix]():
		return &jsonschema.Schema{Type: "string", Description: "a CIDR such as 10.0.0.0/24",
			Pattern: `^[0-9A-Fa-f:.]+/[0-9]{1,3}$`}
	case reflect.TypeFor[inventory.SecretRef]():
		return &jsonschema.Schema{Type: "string", Description: "a secret reference, never the secret: env:NAME or file:PATH",
			Pattern: `^(env|file):.+$`}
	case reflect.TypeFor[step.Action]():
		names := make([]any, 0, len(step.Actions()))
		for _, a := range step.Actions() {
			names = append(names, a.Name())
		}
		return &jsonschema.Schema{Type: "string", Enum: names,
			Description: "what the step would do: create, update, delete, replace (a delete and a create), none, run (a gate or a wait) or conflict"}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
