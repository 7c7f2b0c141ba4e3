package pve

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// parsePropertyString parses a PVE property string ("virtio=BC:24:11:..,
// bridge=vmbr0,tag=10") against its format as pve-common's
// parse_property_string does: comma-separated key=value pairs, a bare
// value for the format's default key, keys that alias another key while
// naming a third (virtio=MAC sets model=virtio and macaddr=MAC), boolean
// spellings (on/yes/true), then a check of every value. path prefixes the
// keys in the error ("net0.tag: ...").
func parsePropertyString(format map[string]*prop, value, path string) (map[string]string, error) {
	defaultKey := ""
	for k, p := range format {
		if p.defaultKey {
			defaultKey = k
		}
	}
	res := map[string]string{}
	for _, part := range strings.Split(value, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if ok && k != "" && v != "" {
			if _, dup := res[k]; dup {
				return nil, fmt.Errorf("duplicate key in comma-separated list property: %s", k)
			}
			p := format[k]
			if p != nil && p.alias != "" {
				if p.keyAlias != "" {
					if _, dup := res[p.keyAlias]; dup {
						return nil, fmt.Errorf("duplicate key in comma-separated list property: %s", p.keyAlias)
					}
					res[p.keyAlias] = k
				}
				k = p.alias
				p = format[k]
				if _, dup := res[k]; dup {
					return nil, fmt.Errorf("duplicate key in comma-separated list property: %s", k)
				}
			}
			if p == nil {
				return nil, fmt.Errorf("invalid key in comma-separated list property: %s", k)
			}
			if p.typ == "boolean" {
				v = normalizeBool(v)
			}
			res[k] = v
			continue
		}
		if defaultKey == "" {
			return nil, errors.New("value without key, but schema does not define a default key")
		}
		if _, dup := res[defaultKey]; dup {
			return nil, fmt.Errorf("duplicate key in comma-separated list property: %s", defaultKey)
		}
		res[defaultKey] = part
	}
	errs := map[string]string{}
	for k, p := range format {
		if p.alias != "" {
			continue
		}
		key := k
		if path != "" {
			key = path + "." + k
		}
		v, ok := res[k]
		if !ok {
			if !p.optional {
				errs[key] = msgMissing
			}
			continue
		}
		if msg := checkValue(p, v, key); msg != "" {
			errs[key] = msg
		}
	}
	if len(errs) > 0 {
		return nil, formatError(errs)
	}
	return res, nil
}

// formatError is PVE's "format error" exception as it stringifies: the
// message, then one "key: message" line per error.
func formatError(errs map[string]string) error {
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("format error\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, errs[k])
	}
	return errors.New(b.String())
}

// normalizeBool is pve-common's parse_boolean, leaving other values as
// they are for the type check to reject.
func normalizeBool(v string) string {
	switch strings.ToLower(v) {
	case "1", "on", "yes", "true":
		return "1"
	case "0", "off", "no", "false":
		return "0"
	}
	return v
}

// kv is one item of a property string as the model reads it: Key is ""
// for a bare value.
type kv struct{ Key, Value string }

// splitProps splits a stored property string without a format.
func splitProps(s string) []kv {
	var out []kv
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			out = append(out, kv{Value: part})
			continue
		}
		out = append(out, kv{Key: k, Value: v})
	}
	return out
}

// propGet returns the value of key in a stored property string; key ""
// is the bare first value.
func propGet(s, key string) string {
	for _, item := range splitProps(s) {
		if item.Key == key {
			return item.Value
		}
	}
	return ""
}

// propSet replaces or appends key in a stored property string.
func propSet(s, key, value string) string {
	items := splitProps(s)
	found := false
	for i := range items {
		if items[i].Key == key {
			items[i].Value = value
			found = true
		}
	}
	if !found {
		items = append(items, kv{Key: key, Value: value})
	}
	return joinProps(items)
}

func joinProps(items []kv) string {
	parts := make([]string, 0, len(items))
	for _, it := range items {
		if it.Key == "" {
			parts = append(parts, it.Value)
		} else {
			parts = append(parts, it.Key+"="+it.Value)
		}
	}
	return strings.Join(parts, ",")
}
