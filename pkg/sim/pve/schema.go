package pve

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Schema is a parameter schema for PVE's API: for each path and method,
// the parameters PVE accepts with their types, enums, ranges, patterns and
// formats (named ones such as dns-name, and property strings such as
// net[n]). Load PVE's own with LoadSchema; BuiltinSchema is the
// simulator's knowledge of what it implements.
type Schema struct {
	name    string
	methods map[string]*methodSchema // "GET /nodes/{node}/qemu"
}

type methodSchema struct {
	props map[string]*prop
}

// prop is one parameter, or one key of a property string.
type prop struct {
	typ        string
	optional   bool
	enum       []string
	min, max   *float64
	pattern    *regexp.Regexp
	minLength  int              // -1: none
	maxLength  int              // -1: none
	format     string           // a named format
	sub        map[string]*prop // a property-string format
	defaultKey bool
	alias      string
	keyAlias   string
}

// LoadSchema reads PVE's API schema: the API viewer's apiSchema array
// (pve-docs api-viewer/apidata.js) as JSON, gzipped or not.
func LoadSchema(path string) (*Schema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading PVE schema: %w", err)
	}
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("reading PVE schema %s: %w", path, err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("reading PVE schema %s: %w", path, err)
		}
	}
	s, err := ParseSchema(raw)
	if err != nil {
		return nil, fmt.Errorf("PVE schema %s: %w", path, err)
	}
	s.name = path
	return s, nil
}

type rawNode struct {
	Path     string                     `json:"path"`
	Info     map[string]json.RawMessage `json:"info"`
	Children []rawNode                  `json:"children"`
}

type rawMethod struct {
	Parameters struct {
		Properties map[string]json.RawMessage `json:"properties"`
	} `json:"parameters"`
}

type rawProp struct {
	Type       json.RawMessage `json:"type"`
	Optional   json.RawMessage `json:"optional"`
	Enum       []any           `json:"enum"`
	Minimum    json.RawMessage `json:"minimum"`
	Maximum    json.RawMessage `json:"maximum"`
	Pattern    string          `json:"pattern"`
	MinLength  json.RawMessage `json:"minLength"`
	MaxLength  json.RawMessage `json:"maxLength"`
	Format     json.RawMessage `json:"format"`
	DefaultKey json.RawMessage `json:"default_key"`
	Alias      string          `json:"alias"`
	KeyAlias   string          `json:"keyAlias"`
}

// ParseSchema parses the API viewer's apiSchema array.
func ParseSchema(data []byte) (*Schema, error) {
	var tree []rawNode
	if err := json.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("decoding API tree: %w", err)
	}
	s := &Schema{name: "PVE schema", methods: map[string]*methodSchema{}}
	var walk func([]rawNode) error
	walk = func(nodes []rawNode) error {
		for _, n := range nodes {
			for method, rm := range n.Info {
				var m rawMethod
				if err := json.Unmarshal(rm, &m); err != nil {
					return fmt.Errorf("%s %s: %w", method, n.Path, err)
				}
				ms := &methodSchema{props: map[string]*prop{}}
				for name, rp := range m.Parameters.Properties {
					p, err := parseProp(rp)
					if err != nil {
						return fmt.Errorf("%s %s: parameter %s: %w", method, n.Path, name, err)
					}
					ms.props[name] = p
				}
				s.methods[method+" "+n.Path] = ms
			}
			if err := walk(n.Children); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(tree); err != nil {
		return nil, err
	}
	if len(s.methods) == 0 {
		return nil, fmt.Errorf("no API methods found")
	}
	return s, nil
}

func parseProp(data json.RawMessage) (*prop, error) {
	var r rawProp
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	p := &prop{minLength: -1, maxLength: -1, alias: r.Alias, keyAlias: r.KeyAlias}
	_ = json.Unmarshal(r.Type, &p.typ) // a list of types stays unchecked
	p.optional = truthy(r.Optional)
	p.defaultKey = truthy(r.DefaultKey)
	for _, e := range r.Enum {
		p.enum = append(p.enum, fmt.Sprint(e))
	}
	p.min = rawNumber(r.Minimum)
	p.max = rawNumber(r.Maximum)
	if n := rawNumber(r.MinLength); n != nil {
		p.minLength = int(*n)
	}
	if n := rawNumber(r.MaxLength); n != nil {
		p.maxLength = int(*n)
	}
	if r.Pattern != "" {
		// A Perl pattern Go's regexp cannot take is left unchecked.
		p.pattern, _ = compilePerlPattern(r.Pattern)
	}
	if len(r.Format) > 0 {
		if r.Format[0] == '{' {
			var sub map[string]json.RawMessage
			if err := json.Unmarshal(r.Format, &sub); err != nil {
				return nil, fmt.Errorf("format: %w", err)
			}
			p.sub = map[string]*prop{}
			for k, v := range sub {
				sp, err := parseProp(v)
				if err != nil {
					return nil, fmt.Errorf("format key %s: %w", k, err)
				}
				p.sub[k] = sp
			}
		} else {
			_ = json.Unmarshal(r.Format, &p.format)
		}
	}
	return p, nil
}

func truthy(raw json.RawMessage) bool {
	s := strings.Trim(string(raw), `"`)
	return s == "1" || s == "true"
}

func rawNumber(raw json.RawMessage) *float64 {
	s := strings.Trim(string(raw), `"`)
	if s == "" || s == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil
	}
	return &f
}

// compilePerlPattern anchors a pattern as PVE does (m/^$pattern$/) and
// turns Perl's (?^:...) groups into Go's.
func compilePerlPattern(p string) (*regexp.Regexp, error) {
	p = strings.ReplaceAll(p, "(?^i:", "(?i:")
	p = strings.ReplaceAll(p, "(?^:", "(?:")
	return regexp.Compile("^(?:" + p + ")$")
}

// Has reports whether the schema defines method on path, path written as
// PVE's API viewer does (/nodes/{node}/qemu/{vmid}/config).
func (s *Schema) Has(method, path string) bool {
	_, ok := s.methods[method+" "+path]
	return ok
}

// Params lists the parameter names of method on path, sorted.
func (s *Schema) Params(method, path string) []string {
	m := s.methods[method+" "+path]
	if m == nil {
		return nil
	}
	names := make([]string, 0, len(m.props))
	for k := range m.props {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// String names the schema's source.
func (s *Schema) String() string { return s.name }

// indexLimit bounds indexed parameters (net[n] is net0..net31); 0 for
// an unknown base.
func indexLimit(base string) int {
	switch base {
	case "net", "ipconfig":
		return 32
	case "scsi":
		return 31
	case "virtio", "hostpci":
		return 16
	case "ide", "serial":
		return 4
	case "sata":
		return 6
	case "unused", "mp", "dev":
		return 256
	case "parallel":
		return 3
	case "usb":
		return 14
	case "numa":
		return 8
	case "virtiofs":
		return 10
	}
	return 0
}

var reIndexed = regexp.MustCompile(`^([a-z]+)(\d+)$`)

// lookup finds the schema of a parameter, mapping net0 to net[n].
func (m *methodSchema) lookup(name string) *prop {
	if p, ok := m.props[name]; ok {
		return p
	}
	sm := reIndexed.FindStringSubmatch(name)
	if sm == nil {
		return nil
	}
	p, ok := m.props[sm[1]+"[n]"]
	if !ok {
		return nil
	}
	if limit := indexLimit(sm[1]); limit > 0 {
		if i, err := strconv.Atoi(sm[2]); err != nil || i >= limit {
			return nil
		}
	}
	return p
}

const (
	msgNotDefined = "property is not defined in schema and the schema does not allow additional properties"
	msgMissing    = "property is missing and it is not optional"
)

// validate checks params (path parameters included) as PVE's
// JSONSchema::validate does and returns the errors per parameter; nil
// when the request is valid. known is false when the schema lacks the
// method.
func (s *Schema) validate(method, path string, params map[string]string) (errs map[string]string, known bool) {
	m := s.methods[method+" "+path]
	if m == nil {
		return nil, false
	}
	errs = map[string]string{}
	for name, v := range params {
		p := m.lookup(name)
		if p == nil {
			errs[name] = msgNotDefined
			continue
		}
		if msg := checkValue(p, v, name); msg != "" {
			errs[name] = msg
		}
	}
	for name, p := range m.props {
		if p.optional || strings.HasSuffix(name, "[n]") {
			continue
		}
		if _, ok := params[name]; !ok {
			errs[name] = msgMissing
		}
	}
	if len(errs) == 0 {
		return nil, true
	}
	return errs, true
}

var (
	reInteger = regexp.MustCompile(`^-?\d+$`)
	reNumber  = regexp.MustCompile(`^[+-]?(\d+\.\d*|\d*\.\d+|\d+)([eE][+-]?\d+)?$`)
)

// checkValue checks one value in the order PVE's check_prop does and
// returns its first complaint, or "".
func checkValue(p *prop, v, path string) string {
	switch p.typ {
	case "integer":
		if !reInteger.MatchString(v) {
			return fmt.Sprintf("type check ('integer') failed - got '%s'", v)
		}
	case "number":
		if !reNumber.MatchString(v) {
			return fmt.Sprintf("type check ('number') failed - got '%s'", v)
		}
	case "boolean":
		if v != "0" && v != "1" {
			return fmt.Sprintf("type check ('boolean') failed - got '%s'", v)
		}
	}
	if p.minLength >= 0 && utf8.RuneCountInString(v) < p.minLength {
		return fmt.Sprintf("value must be at least %d characters long", p.minLength)
	}
	if p.maxLength >= 0 && utf8.RuneCountInString(v) > p.maxLength {
		return fmt.Sprintf("value may only be %d characters long", p.maxLength)
	}
	if p.typ == "integer" || p.typ == "number" {
		f, _ := strconv.ParseFloat(v, 64)
		if p.min != nil && f < *p.min {
			return "value must have a minimum value of " + fmtNum(*p.min)
		}
		if p.max != nil && f > *p.max {
			return "value must have a maximum value of " + fmtNum(*p.max)
		}
	}
	if len(p.enum) > 0 {
		found := false
		for _, e := range p.enum {
			if e == v {
				found = true
				break
			}
		}
		if !found {
			return fmt.Sprintf("value '%s' does not have a value in the enumeration '%s'", v, strings.Join(p.enum, ", "))
		}
	}
	if p.pattern != nil && !p.pattern.MatchString(v) {
		return "value does not match the regex pattern"
	}
	if p.sub != nil {
		if _, err := parsePropertyString(p.sub, v, path); err != nil {
			return "invalid format - " + err.Error()
		}
	} else if p.format != "" {
		if err := checkFormat(p.format, v, path); err != nil {
			return "invalid format - " + err.Error()
		}
	}
	return ""
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// paramType is the declared type of a parameter of method on path, used
// to render configuration values as PVE does ("" when unknown).
func (s *Schema) paramType(method, path, name string) string {
	m := s.methods[method+" "+path]
	if m == nil {
		return ""
	}
	if p := m.lookup(name); p != nil {
		return p.typ
	}
	return ""
}
