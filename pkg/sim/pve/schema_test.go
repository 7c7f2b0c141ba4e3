package pve

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestRoutesInPVESchema: every method the simulator answers exists in
// PVE 9.1 with the same path.
func TestRoutesInPVESchema(t *testing.T) {
	pve := loadPVESchema(t)
	s, err := New(Options{Schema: pve})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Routes() {
		method, path, _ := strings.Cut(r, " ")
		if !pve.Has(method, path) {
			t.Errorf("%s is not in PVE's schema", r)
		}
	}
}

// TestBuiltinSchemaAgreesWithPVE: the built-in schema is a subset of
// PVE's: same methods, parameter names, types, and property-string keys.
func TestBuiltinSchemaAgreesWithPVE(t *testing.T) {
	pve := loadPVESchema(t)
	b := BuiltinSchema()
	keys := make([]string, 0, len(b.methods))
	for k := range b.methods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		pm := pve.methods[key]
		if pm == nil {
			t.Errorf("%s: not in PVE's schema", key)
			continue
		}
		for name, bp := range b.methods[key].props {
			pp := pm.props[name]
			if pp == nil {
				t.Errorf("%s: parameter %s not in PVE's schema", key, name)
				continue
			}
			compareProp(t, key+" "+name, bp, pp)
		}
		for name, pp := range pm.props {
			if _, ok := b.methods[key].props[name]; !ok && !pp.optional {
				t.Errorf("%s: PVE requires %s, the built-in schema lacks it", key, name)
			}
		}
	}
}

func compareProp(t *testing.T, where string, b, p *prop) {
	t.Helper()
	if b.alias != "" || p.alias != "" {
		if b.alias != p.alias || b.keyAlias != p.keyAlias {
			t.Errorf("%s: alias %s/%s, PVE %s/%s", where, b.alias, b.keyAlias, p.alias, p.keyAlias)
		}
		return
	}
	if b.typ != p.typ {
		t.Errorf("%s: type %q, PVE %q", where, b.typ, p.typ)
	}
	if b.optional != p.optional {
		t.Errorf("%s: optional %v, PVE %v", where, b.optional, p.optional)
	}
	if len(b.enum) > 0 && !slices.Equal(b.enum, p.enum) {
		t.Errorf("%s: enum %v, PVE %v", where, b.enum, p.enum)
	}
	if b.defaultKey != p.defaultKey {
		t.Errorf("%s: default key %v, PVE %v", where, b.defaultKey, p.defaultKey)
	}
	if b.format != "" && p.format != "" && b.format != p.format {
		t.Errorf("%s: format %q, PVE %q", where, b.format, p.format)
	}
	for _, lim := range []struct {
		name string
		b, p *float64
	}{{"minimum", b.min, p.min}, {"maximum", b.max, p.max}} {
		if lim.b != nil && (lim.p == nil || *lim.b != *lim.p) {
			t.Errorf("%s: %s %v, PVE %v", where, lim.name, *lim.b, lim.p)
		}
	}
	if b.sub != nil {
		if p.sub == nil && p.format == "" {
			t.Errorf("%s: property string, PVE has none", where)
		}
		for k, bs := range b.sub {
			if ps := p.sub[k]; ps != nil {
				compareProp(t, where+"."+k, bs, ps)
			} else if p.sub != nil {
				t.Errorf("%s: key %s not in PVE's format", where, k)
			}
		}
	}
}

// TestPermissionsMatchPVE compares the simulator's privilege checks with
// the simple "perm" checks PVE's schema declares.
func TestPermissionsMatchPVE(t *testing.T) {
	raw := readSchemaJSON(t)
	perms := map[string][]any{}
	var walk func([]map[string]any)
	walk = func(nodes []map[string]any) {
		for _, n := range nodes {
			info, _ := n["info"].(map[string]any)
			for method, m := range info {
				if p, ok := m.(map[string]any)["permissions"].(map[string]any); ok {
					if check, ok := p["check"].([]any); ok {
						perms[method+" "+n["path"].(string)] = check
					}
				}
			}
			var kids []map[string]any
			if cs, ok := n["children"].([]any); ok {
				for _, c := range cs {
					kids = append(kids, c.(map[string]any))
				}
			}
			walk(kids)
		}
	}
	var tree []map[string]any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	walk(tree)
	vars := map[string]string{"node": "pve-s1", "vmid": "101", "storage": "local", "upid": "x"}
	for _, rt := range buildRoutes() {
		check, ok := perms[rt.method+" "+rt.tmpl]
		if !ok || check[0] != "perm" || rt.perms == nil {
			continue
		}
		want := check[1].(string)
		for k, v := range vars {
			want = strings.ReplaceAll(want, "{"+k+"}", v)
		}
		var privs []string
		for _, p := range check[2].([]any) {
			privs = append(privs, p.(string))
		}
		params := map[string]string{"newid": "102", "cores": "2", "memory": "512", "net0": "x", "rootfs": "x", "name": "x"}
		got := rt.perms(&call{vars: vars, params: params})
		if len(check) > 3 && check[3] == "any" && len(got) > 1 {
			// A coarse "any of" check; the simulator asks for each
			// parameter's own privilege, as PVE's handler then does.
			for _, g := range got {
				if g.path != want || len(g.privs) != 1 || !slices.Contains(privs, g.privs[0]) {
					t.Errorf("%s %s: check %+v is not among PVE's %s %v", rt.method, rt.tmpl, g, want, privs)
				}
			}
			continue
		}
		if len(got) == 0 || got[0].path != want || !slices.Equal(got[0].privs, privs) {
			t.Errorf("%s %s: checks %+v, PVE wants %s %v", rt.method, rt.tmpl, got, want, privs)
		}
	}
}

func readSchemaJSON(t *testing.T) []byte {
	loadPVESchema(t) // skips when absent
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSchemaValidation(t *testing.T) {
	pve := loadPVESchema(t)
	const cfg = "/nodes/{node}/qemu/{vmid}/config"
	for _, tc := range []struct {
		params map[string]string
		want   map[string]string
	}{
		{map[string]string{"node": "pve-s1", "vmid": "105", "net31": "virtio,bridge=vmbr0"}, nil},
		{map[string]string{"node": "pve-s1", "vmid": "105", "net32": "virtio,bridge=vmbr0"}, map[string]string{"net32": msgNotDefined}},
		{map[string]string{"node": "pve-s1", "vmid": "99"}, map[string]string{"vmid": "value must have a minimum value of 100"}},
		{map[string]string{"node": "pve-s1", "vmid": "abc"}, map[string]string{"vmid": "type check ('integer') failed - got 'abc'"}},
		{map[string]string{"node": "pve-s1"}, map[string]string{"vmid": msgMissing}},
		{map[string]string{"node": "pve-s1", "vmid": "105", "onboot": "true"}, map[string]string{"onboot": "type check ('boolean') failed - got 'true'"}},
		{map[string]string{"node": "pve-s1", "vmid": "105", "tags": "ok;bad tag!"}, map[string]string{"tags": "invalid format - invalid characters in tag 'tag!'"}},
		{map[string]string{"node": "pve-s1", "vmid": "105", "delete": "net1,ipconfig1"}, nil},
		{map[string]string{"node": "pve-s1", "vmid": "105", "scsi0": "local-lvm:vm-105-disk-0,size=10G,iothread=1"}, nil},
		{map[string]string{"node": "pve-s1", "vmid": "105", "memory": "2048"}, nil},
		{map[string]string{"node": "pve-s1", "vmid": "105", "memory": "8"}, map[string]string{"memory": "invalid format - format error\nmemory.current: value must have a minimum value of 16\n"}},
	} {
		for _, s := range []*Schema{pve, BuiltinSchema()} {
			got, known := s.validate("PUT", cfg, tc.params)
			if !known {
				t.Fatalf("%s lacks PUT %s", s, cfg)
			}
			if len(got) != len(tc.want) {
				t.Errorf("%s: %v: got %v, want %v", s, tc.params, got, tc.want)
				continue
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: %v: %s = %q, want %q", s, tc.params, k, got[k], v)
				}
			}
		}
	}
}
