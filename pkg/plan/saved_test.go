package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A plan read back from its JSON renders exactly as the plan compiled: the
// views use only what the plan holds, never its graph.
func TestSavedPlanRendersTheSame(t *testing.T) {
	for _, c := range renderCases() {
		p := c.plan(t)
		back, err := ReadSaved(strings.NewReader(render(t, p, renderings()[4].render)))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range renderings() {
			if a, b := render(t, p, r.render), render(t, back, r.render); a != b {
				t.Errorf("%s.%s: the saved plan renders differently:\n%s", c.name, r.ext, firstDifference(a, b))
			}
		}
	}
}

// A saved plan names its files relative to itself (absolute ones stay
// absolute, a built-in plan file has no path), so it applies from any
// working directory; otherwise it is what RenderJSON renders.
func TestSavedPlanRoundTrip(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	for _, tc := range []struct {
		name, out        string
		inv, planFile    string
		builtin          bool
		savedInv, savedP string
	}{
		{"beside", "plan.json", "inventories/lab.yaml", "plans/test.yaml", false, "inventories/lab.yaml", "plans/test.yaml"},
		{"below", "reviews/mr-1/plan.json", "inventories/lab.yaml", "plans/test.yaml", false, "../../inventories/lab.yaml", "../../plans/test.yaml"},
		{"absolute", "reviews/plan.json", filepath.Join(root, "inventories/lab.yaml"), "", true, filepath.Join(root, "inventories/lab.yaml"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := observedPlan(t)
			p.Inventory.Path, p.PlanFile.Path, p.PlanFile.Builtin = tc.inv, tc.planFile, tc.builtin
			if err := os.MkdirAll(filepath.Dir(tc.out), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := Save(tc.out, p); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(tc.out)
			if err != nil {
				t.Fatal(err)
			}
			want := *p
			want.Inventory.Path, want.PlanFile.Path = tc.savedInv, tc.savedP
			if json := render(t, &want, renderings()[4].render); string(data) != json {
				t.Errorf("Save does not write what RenderJSON renders, with the paths relative to the plan:\n%s", firstDifference(json, string(data)))
			}
			// Read back from elsewhere, the paths lead to the same files.
			t.Chdir(t.TempDir())
			back, err := LoadSaved(filepath.Join(root, tc.out))
			if err != nil {
				t.Fatal(err)
			}
			for _, pair := range [][2]string{{back.Inventory.Path, tc.inv}, {back.PlanFile.Path, tc.planFile}} {
				if pair[1] == "" {
					if pair[0] != "" {
						t.Errorf("a built-in plan file read back with path %q", pair[0])
					}
					continue
				}
				got, _ := filepath.Abs(pair[0])
				if want := filepath.Join(root, strings.TrimPrefix(pair[1], root)); got != want {
					t.Errorf("read back as %s, want %s", got, want)
				}
			}
			if back.PlanFile.Builtin != tc.builtin {
				t.Errorf("builtin read back as %v", back.PlanFile.Builtin)
			}
			t.Chdir(root)
		})
	}
}

func TestReadSavedRefuses(t *testing.T) {
	edited := strings.Replace(render(t, observedPlan(t), renderings()[4].render), `"delete": 3,`, `"delete": 0,`, 1)
	for _, tc := range []struct{ name, doc, want string }{
		{"newer", `{"format_version": 99}`, "format_version 99, but this homelab reads version 2"},
		{"older", `{"format_version": 1}`, "format_version 1 was written by an older homelab"},
		{"edited summary", edited, "does not add up to its steps"},
		{"not JSON", `format_version: 2`, "read saved plan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadSaved(strings.NewReader(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// A saved plan is input from a file anyone may have edited: reading it
// never panics, and a plan it accepts renders in every format or is
// refused with an error, and reads back with the same counts.
func FuzzReadSaved(f *testing.F) {
	paths, _ := filepath.Glob("testdata/render/*.json")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"format_version": 2, "steps": [{"id": "a", "change": {"action": "replace"}}], "phases": [{"steps": ["a"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadSaved(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, format := range Formats() {
			var b strings.Builder
			_ = Render(&b, p, format, true)
		}
		var b strings.Builder
		if err := RenderJSON(&b, p); err != nil {
			t.Fatal(err)
		}
		back, err := ReadSaved(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("a plan ReadSaved accepted does not read back from its JSON: %v", err)
		}
		if back.Summary() != p.Summary() {
			t.Fatalf("counts %+v read back as %+v", p.Summary(), back.Summary())
		}
	})
}
