package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Load reads, defaults and validates the inventory at path. The error is a
// *ValidationError listing every problem with its position; warnings come
// back in the Diagnostics with a nil error.
func Load(path string) (*Inventory, Diagnostics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read inventory: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for an inventory held in memory; path is used in messages.
func Parse(path string, data []byte) (*Inventory, Diagnostics, error) {
	sum := sha256.Sum256(data)
	d := &decoder{file: path, positions: map[string]Pos{}}
	inv := &Inventory{}
	inv.Source = Source{Path: path, Digest: "sha256:" + hex.EncodeToString(sum[:]), positions: d.positions}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		diags := Diagnostics{{Pos: Pos{File: path, Line: 1, Col: 1}, Field: "(document)", Message: err.Error()}}
		return nil, diags, diags.Err()
	}
	if len(doc.Content) == 0 {
		diags := Diagnostics{{Pos: Pos{File: path, Line: 1, Col: 1}, Field: "(document)", Message: "the inventory is empty"}}
		return nil, diags, diags.Err()
	}
	d.decodeStruct(doc.Content[0], reflect.ValueOf(inv).Elem(), "", 0)
	if len(d.diags) > 0 {
		d.diags.sort()
		return nil, d.diags, d.diags.Err()
	}
	applyDefaults(inv)
	diags := validate(inv)
	diags.sort()
	if err := diags.Err(); err != nil {
		return nil, diags, err
	}
	return inv, diags, nil
}
