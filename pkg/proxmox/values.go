package proxmox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
)

// owned reports whether a guest's config carries homelab's mark: the
// owner tag, or the description homelab sets when it creates a guest.
func owned(cfg map[string]any) bool {
	return hasTag(str(cfg["tags"]), OwnerTag) || strings.HasPrefix(str(cfg["description"]), "homelab:")
}

func hasTag(tags, tag string) bool {
	return slices.Contains(splitTags(tags), tag)
}

func addTag(tags, tag string) string {
	all := splitTags(tags)
	if !slices.Contains(all, tag) {
		all = append(all, tag)
	}
	slices.Sort(all)
	return strings.Join(all, ";")
}

func splitTags(tags string) []string {
	return strings.FieldsFunc(strings.ToLower(tags), func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
}

// str formats a config value the way PVE means it (numbers arrive as
// JSON numbers, property strings as strings).
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// sameValue compares a config value with the wanted one: property strings
// as sets of key=value (PVE may reorder them; MACs in any case).
func sameValue(key, have, want string) bool {
	if have == want {
		return true
	}
	if !strings.Contains(want, "=") {
		return false
	}
	return canonical(have) == canonical(want)
}

func canonical(propertyString string) string {
	parts := strings.Split(propertyString, ",")
	for i, p := range parts {
		parts[i] = strings.ToLower(strings.TrimSpace(p))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// diskGiB reads the size of the boot disk (scsi0 for VMs, rootfs for
// containers) from its property string, in GiB.
func diskGiB(cfg map[string]any, kind string) int {
	key := "scsi0"
	if kind == inventory.KindLXC {
		key = "rootfs"
	}
	for _, p := range strings.Split(str(cfg[key]), ",") {
		if v, ok := strings.CutPrefix(p, "size="); ok {
			return sizeGiB(v)
		}
	}
	return 0
}

func sizeGiB(v string) int {
	if v == "" {
		return 0
	}
	unit := v[len(v)-1]
	n, err := strconv.ParseFloat(strings.TrimRight(v, "KMGT"), 64)
	if err != nil {
		return 0
	}
	switch unit {
	case 'T':
		n *= 1024
	case 'M':
		n /= 1024
	case 'K':
		n /= 1024 * 1024
	}
	return int(n)
}
