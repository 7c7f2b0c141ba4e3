package schema

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invopop/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/homelabctl/homelab/pkg/inventory"
)

var update = flag.Bool("update", false, "rewrite comments.json and docs/*.schema.json")

// checkFile compares got with the file at path, or writes it with -update.
func checkFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./pkg/schema -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the Go types give (go test ./pkg/schema -update rewrites it; review the diff)", path)
	}
}

// The descriptions are the Go doc comments of the types the schemas are
// made from, as the source says them now.
func TestCommentsAreTheSource(t *testing.T) {
	t.Chdir("../..") // the comment keys are import paths: parse from the module root
	r := &jsonschema.Reflector{}
	for _, dir := range []string{"pkg/inventory", "pkg/plan", "pkg/step"} {
		if err := r.AddGoComments("github.com/homelabctl/homelab", dir); err != nil {
			t.Fatal(err)
		}
	}
	used := map[string]bool{}
	for _, name := range Names() {
		if _, err := generate(name, r.CommentMap, used); err != nil {
			t.Fatal(err)
		}
	}
	kept := map[string]string{}
	for key := range used {
		kept[key] = r.CommentMap[key]
	}
	b, err := json.MarshalIndent(kept, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) < 50 {
		t.Errorf("only %d descriptions found in the source", len(kept))
	}
	checkFile(t, "pkg/schema/comments.json", append(b, '\n'))
}

// docs/ publishes the schemas exactly as Generate makes them, and they
// are valid JSON Schemas.
func TestDocsHoldTheSchemas(t *testing.T) {
	for _, name := range Names() {
		got, err := Generate(name)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Generate(name)
		if !bytes.Equal(got, again) {
			t.Fatalf("%s: two calls give two schemas", name)
		}
		if *update {
			// TestCommentsAreTheSource may just have rewritten the
			// descriptions: use those, not the ones built in.
			comments := map[string]string{}
			if b, err := os.ReadFile("comments.json"); err != nil || json.Unmarshal(b, &comments) != nil {
				t.Fatalf("comments.json: %v", err)
			}
			s, err := generate(name, comments, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, err = marshal(s); err != nil {
				t.Fatal(err)
			}
		}
		checkFile(t, filepath.Join("../../docs", File(name)), got)
		compile(t, name)
	}
	if _, err := Generate("status"); err == nil || !strings.Contains(err.Error(), "inventory or plan") {
		t.Errorf("an unknown schema: %v", err)
	}
}

// compile compiles the named schema with a maintained validator that
// checks formats (IP addresses) too.
func compile(t *testing.T, name string) *validator.Schema {
	t.Helper()
	b, err := Generate(name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := validator.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := validator.NewCompiler()
	c.AssertFormat()
	url := "https://homelab.invalid/" + File(name)
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// yamlDoc reads YAML as the values a JSON document would hold.
func yamlDoc(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The example inventories match the inventory schema, and point editors
// at it.
func TestExampleInventoriesMatchTheSchema(t *testing.T) {
	s := compile(t, "inventory")
	paths, err := filepath.Glob("../../inventories/*.yaml")
	if err != nil || len(paths) < 2 {
		t.Fatalf("example inventories: %v %v", paths, err)
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(yamlDoc(t, data)); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if line := "# yaml-language-server: $schema=../docs/" + File("inventory") + "\n"; !bytes.HasPrefix(data, []byte(line)) {
			t.Errorf("%s does not start with %q", path, line)
		}
	}
}

// A broken example inventory fails the schema where homelab's loader fails
// it too, at the key that is wrong.
func TestBrokenInventoriesFailTheSchema(t *testing.T) {
	s := compile(t, "inventory")
	data, err := os.ReadFile("../../inventories/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, old, new string
		where          string // the failing location, as the validator names it
	}{
		{"unknown key", "  - name: master-1\n", "  - name: master-1\n    cpus: 4\n", "/guests/2"},
		{"kind", "name: lb-1, kind: vm,", "name: lb-1, kind: container,", "/guests/0/kind"},
		{"not an IP", "ip: 192.168.30.11", "ip: 192.168.300.11", "/guests/0/ip"},
		{"a secret's value", "password: env:HOMELAB_ROUTER_PASSWORD", "password: hunter2", "/router/password"},
		{"a word for a number", "vlan: 30", "vlan: thirty", "/networks/0/vlan"},
		{"no guests", "\nguests:\n", "\nguestz:\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(data), tc.old) {
				t.Fatalf("inventories/small.yaml has no %q", tc.old)
			}
			broken := []byte(strings.Replace(string(data), tc.old, tc.new, 1))
			err := s.Validate(yamlDoc(t, broken))
			if err == nil {
				t.Fatal("the schema accepts it")
			}
			if !strings.Contains(err.Error(), "'"+tc.where+"'") {
				t.Errorf("the schema fails it elsewhere than at %s: %v", tc.where, err)
			}
			if _, _, err := inventory.Parse("small.yaml", broken); err == nil {
				t.Error("homelab loads it: the schema is stricter than the loader")
			}
		})
	}
}

// Every golden plan matches the plan schema; a plan with an action
// homelab does not have does not.
func TestGoldenPlansMatchTheSchema(t *testing.T) {
	s := compile(t, "plan")
	var paths []string
	for _, glob := range []string{"../plan/testdata/render/*.json", "../../cmd/homelab/testdata/plan/*.json"} {
		p, err := filepath.Glob(glob)
		if err != nil || len(p) == 0 {
			t.Fatalf("%s: %v", glob, err)
		}
		paths = append(paths, p...)
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := validator.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(doc); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if !strings.Contains(string(data), `"action": "create"`) {
			continue
		}
		broken := strings.Replace(string(data), `"action": "create"`, `"action": "rebuild"`, 1)
		doc, _ = validator.UnmarshalJSON(strings.NewReader(broken))
		if err := s.Validate(doc); err == nil || !strings.Contains(err.Error(), "/change/action") {
			t.Errorf("%s with a rebuild action: %v", path, err)
		}
	}
}
