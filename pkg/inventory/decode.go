package inventory

import (
	"encoding"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder turns a YAML node tree into typed values, recording the position
// of every field path and collecting every problem as a diagnostic.
type decoder struct {
	file      string
	positions map[string]Pos
	diags     Diagnostics
	// full is set when diags holds MaxCollected problems: decoding stops.
	full bool
}

// MaxCollected is how many problems the decoder collects before it stops
// looking: a file with more is not an inventory with typos.
const MaxCollected = 1000

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	if d.full {
		return
	}
	if len(d.diags) == MaxCollected-1 {
		d.full = true
		d.diags = append(d.diags, Diagnostic{Pos: d.pos(n), Field: "(document)", Message: fmt.Sprintf("%d problems so far: stopped looking here", MaxCollected)})
		return
	}
	d.diags = append(d.diags, Diagnostic{Pos: d.pos(n), Field: field, Message: fmt.Sprintf(format, args...)})
}

var (
	addrType   = reflect.TypeFor[netip.Addr]()
	prefixType = reflect.TypeFor[netip.Prefix]()
	textType   = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decode fills v (addressable) from n; field is v's path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, field string, depth int) {
	if d.full {
		return
	}
	if depth > 32 {
		d.errorf(n, field, "nested too deeply")
		return
	}
	d.positions[field] = d.pos(n)
	if n.Kind == yaml.AliasNode {
		d.errorf(n, field, "aliases (*%s) are not supported in inventories: write the value out", n.Value)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an explicit null leaves the zero value
	}
	switch {
	case v.Type() == addrType:
		if s, ok := d.scalar(n, field, "an IP address"); ok {
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				d.errorf(n, field, "%q is not an IP address", s)
				return
			}
			v.Set(reflect.ValueOf(a))
		}
		return
	case v.Type() == prefixType:
		if s, ok := d.scalar(n, field, "a CIDR such as 10.0.0.0/24"); ok {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				d.errorf(n, field, "%q is not a CIDR such as 10.0.0.0/24", s)
				return
			}
			v.Set(reflect.ValueOf(p))
		}
		return
	case reflect.PointerTo(v.Type()).Implements(textType) && v.Kind() != reflect.String:
		if s, ok := d.scalar(n, field, "a value"); ok {
			if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
				d.errorf(n, field, "%v", err)
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		d.decode(n, elem.Elem(), field, depth+1)
		v.Set(elem)
	case reflect.Struct:
		d.decodeStruct(n, v, field, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, field, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", field, i), depth+1)
		}
		v.Set(s)
	case reflect.String:
		if s, ok := d.scalar(n, field, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		if s, ok := d.scalar(n, field, "a whole number"); ok {
			i, err := strconv.ParseInt(s, 0, 64)
			if err != nil || n.Tag != "!!int" {
				d.errorf(n, field, "expected a whole number, got %q", s)
				return
			}
			if i > 1<<31 || i < -(1<<31) {
				d.errorf(n, field, "%s is out of range", s)
				return
			}
			v.SetInt(i)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, field, "true or false"); ok {
			if n.Tag != "!!bool" {
				d.errorf(n, field, "expected true or false, got %q", s)
				return
			}
			v.SetBool(s == "true" || s == "True" || s == "TRUE")
		}
	default:
		d.errorf(n, field, "cannot hold a %s (internal)", v.Kind())
	}
}

func (d *decoder) scalar(n *yaml.Node, field, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, field, "expected %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, field string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "expected a mapping of keys to values, got %s", describe(n))
		return
	}
	t := v.Type()
	keys := map[string]int{}
	var names []string
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		keys[tag] = i
		names = append(names, tag)
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content) && !d.full; i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		path := key
		if field != "" {
			path = field + "." + key
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, field, "keys must be plain names")
			continue
		}
		if key == "<<" {
			d.errorf(k, path, "merge keys (<<) are not supported in inventories: write the values out")
			continue
		}
		if prev, dup := seen[key]; dup {
			d.errorf(k, path, "%q is given twice (first at line %d)", key, prev.Line)
			continue
		}
		seen[key] = k
		idx, ok := keys[key]
		if !ok {
			msg := fmt.Sprintf("unknown field %q", key)
			if s := closest(key, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errorf(k, path, "%s", msg)
			continue
		}
		d.decode(val, v.Field(idx), path, depth+1)
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// closest returns the name nearest to key by edit distance, if close enough.
func closest(key string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
