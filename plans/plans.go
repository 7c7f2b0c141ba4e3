// Package plans holds the plan files shipped with homelab, built into the
// binary: a command given no plan file runs the built-in full-stack plan,
// and -p NAME picks another built-in plan by name, from any directory.
// The YAML files beside this one are those plans; pkg/plan reads them.
package plans

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

// Default is the plan a command runs when it is given none.
const Default = "full-stack"

//go:embed *.yaml
var files embed.FS

// Read returns the built-in plan file called name (its file name without
// .yaml), or false when there is none.
func Read(name string) ([]byte, bool) {
	if name == "" || strings.ContainsAny(name, `/\.`) {
		return nil, false
	}
	data, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, false
	}
	return data, true
}

// Names lists the built-in plans, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".") // an embed.FS root always reads
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
