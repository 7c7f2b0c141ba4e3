package routeros

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// schemaPath is RouterOS 7.22.3's own command tree (/console/inspect),
// kept beside the repository as test data.
const schemaPath = "../../../../shared/routeros-api/deep-inspect-7.22.3.json.gz"

type schemaNode map[string]json.RawMessage

func loadSchema(t *testing.T) schemaNode {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Skipf("RouterOS schema not found at %s (it lives in ../shared beside the repository): %v", schemaPath, err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var root schemaNode
	if err := json.NewDecoder(z).Decode(&root); err != nil {
		t.Fatal(err)
	}
	return root
}

func (n schemaNode) child(t *testing.T, name string) (schemaNode, bool) {
	t.Helper()
	raw, ok := n[name]
	if !ok {
		return nil, false
	}
	var c schemaNode
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, false
	}
	return c, true
}

func (n schemaNode) walk(t *testing.T, path string) (schemaNode, bool) {
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		c, ok := n.child(t, part)
		if !ok {
			return nil, false
		}
		n = c
	}
	return n, true
}

func (n schemaNode) completions(t *testing.T) []string {
	c, ok := n.child(t, "_completion")
	if !ok {
		return nil
	}
	var out []string
	for k := range c {
		out = append(out, k)
	}
	return out
}

// Every menu, command and argument the simulator accepts exists in real
// RouterOS, every property it prints is printable there, and the boolean
// and enum values it stores are values RouterOS offers.
func TestSimulatorMatchesRouterOSSchema(t *testing.T) {
	root := loadSchema(t)
	r := NewRouter()
	for path, m := range r.menus {
		node, ok := root.walk(t, path)
		if !ok {
			t.Errorf("menu %s does not exist in RouterOS", path)
			continue
		}
		verbs := []string{"print"}
		if m.attrs != nil {
			verbs = append(verbs, "add", "set", "remove")
		}
		if path == "/ip/dhcp-server/lease" {
			verbs = append(verbs, "make-static")
		}
		for _, verb := range verbs {
			if _, ok := node.child(t, verb); !ok {
				t.Errorf("%s/%s does not exist in RouterOS", path, verb)
			}
		}
		for _, verb := range []string{"add", "set"} {
			cmd, ok := node.child(t, verb)
			if !ok || m.attrs == nil {
				continue
			}
			for _, a := range m.attrs {
				if _, ok := cmd.child(t, a); !ok {
					t.Errorf("%s/%s has no argument %s in RouterOS", path, verb, a)
				}
			}
		}
		print, _ := node.child(t, "print")
		proplist, _ := print.child(t, "proplist")
		printable := proplist.completions(t)
		var props []string
		for k := range m.defaults {
			props = append(props, k)
		}
		props = append(props, m.attrs...)
		for _, it := range m.items {
			for k := range it.props {
				props = append(props, k)
			}
		}
		for _, p := range props {
			if p != "" && !slices.Contains(printable, p) {
				t.Errorf("%s prints %s, which RouterOS does not", path, p)
			}
		}
		if add, ok := node.child(t, "add"); ok {
			for k, v := range m.defaults {
				arg, ok := add.child(t, k)
				if !ok {
					continue // read-only property such as dynamic
				}
				enum := arg.completions(t)
				if len(enum) == 0 || isBoolean(k) {
					continue // booleans are written yes/no and printed true/false
				}
				if !slices.Contains(enum, v) {
					t.Errorf("%s: default %s=%s is not one of RouterOS's values %v", path, k, v, enum)
				}
			}
		}
	}
}

// The settings menus (/ip/dns, /system/identity, /system/resource) exist
// in RouterOS with print, and set where the simulator takes it, with
// every argument the simulator accepts.
func TestSettingsMenusMatchRouterOSSchema(t *testing.T) {
	root := loadSchema(t)
	for path, attrs := range settingsMenus {
		node, ok := root.walk(t, path)
		if !ok {
			t.Errorf("menu %s does not exist in RouterOS", path)
			continue
		}
		if _, ok := node.child(t, "print"); !ok {
			t.Errorf("%s/print does not exist in RouterOS", path)
		}
		set, hasSet := node.child(t, "set")
		if hasSet != (attrs != nil) {
			t.Errorf("%s/set exists in RouterOS: %v, in the simulator: %v", path, hasSet, attrs != nil)
		}
		for _, a := range attrs {
			if _, ok := set.child(t, a); !ok {
				t.Errorf("%s/set has no argument %s in RouterOS", path, a)
			}
		}
		for k := range defaultSettings()[path] {
			if _, ok := set.child(t, k); !ok {
				t.Errorf("%s prints %s, which RouterOS cannot set", path, k)
			}
		}
	}
}
