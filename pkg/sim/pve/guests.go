package pve

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// lookupGuest finds the guest a path names. PVE keeps configurations per
// node, so a guest on another node is as missing as one that never was.
func (s *Server) lookupGuest(c *call, kind Kind) (*guest, *apiError) {
	vmid, _ := strconv.Atoi(c.vars["vmid"])
	g := s.st.guests[vmid]
	if g == nil || g.node != c.vars["node"] || g.kind != kind {
		return nil, missingConfig(c.vars["node"], kind, vmid)
	}
	return g, nil
}

// checkLock refuses to touch a locked guest unless skiplock is set.
func checkLock(g *guest, c *call) *apiError {
	if g.lock == "" || c.params["skiplock"] == "1" {
		return nil
	}
	return fail("%s is locked (%s)", g.word(), g.lock)
}

// configPath is the schema path whose parameter types render a guest's
// configuration.
func configPath(kind Kind) string {
	if kind == KindCT {
		return "/nodes/{node}/lxc/{vmid}/config"
	}
	return "/nodes/{node}/qemu/{vmid}/config"
}

// renderConfig is GET .../config: integers and booleans as JSON numbers,
// everything else as strings, plus the digest.
func (s *Server) renderConfig(g *guest) map[string]any {
	out := map[string]any{"digest": g.digest()}
	for k, v := range g.conf {
		typ := s.schema.paramType("PUT", configPath(g.kind), k)
		if typ == "" {
			typ = s.builtin.paramType("PUT", configPath(g.kind), k)
		}
		switch typ {
		case "integer", "boolean":
			if reInteger.MatchString(v) {
				out[k] = json.Number(v)
				continue
			}
		case "number":
			if reNumber.MatchString(v) {
				out[k] = json.Number(v)
				continue
			}
		}
		out[k] = v
	}
	if g.lock != "" {
		out["lock"] = g.lock
	}
	return out
}

// baseStatus is what list and status/current entries share.
func baseStatus(g *guest, now time.Time) map[string]any {
	row := map[string]any{
		"vmid": g.vmid, "name": g.name(), "status": g.status(), "cpus": g.cpus(),
		"maxmem": g.memoryBytes(), "maxdisk": g.rootDiskSize(), "uptime": g.uptime(now),
		"netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
	}
	addUsage(row, g)
	if g.running {
		row["pid"] = g.pid
	}
	if tags := g.conf["tags"]; tags != "" {
		row["tags"] = tags
	}
	if g.lock != "" {
		row["lock"] = g.lock
	}
	// PVE sets template only for templates ($d->{template} = 1 if ...).
	if g.template() {
		row["template"] = 1
	}
	return row
}

func (s *Server) guestsOn(nodeName string, kind Kind) []*guest {
	var out []*guest
	for _, id := range slices.Sorted(maps.Keys(s.st.guests)) {
		if g := s.st.guests[id]; g.node == nodeName && g.kind == kind {
			out = append(out, g)
		}
	}
	return out
}

// applyConfig changes a configuration as PUT/POST .../config do: the
// digest check, deletions, then every other parameter. deferFull leaves
// the storage capacity check to the task that allocates (checkCapacity).
func (s *Server) applyConfig(g *guest, c *call, deferFull bool) *apiError {
	if d := c.params["digest"]; d != "" && d != g.digest() {
		return fail("detected modified configuration - file changed by other user? Try again.")
	}
	skip := map[string]bool{"node": true, "vmid": true, "digest": true, "skiplock": true, "delete": true, "revert": true, "background_delay": true}
	for _, k := range splitList(c.params["delete"]) {
		if _, ok := c.params[k]; ok {
			return paramError(map[string]string{k: "conflicts with parameter 'delete'"})
		}
	}
	next := maps.Clone(g.conf)
	for _, k := range splitList(c.params["delete"]) {
		delete(next, k)
	}
	alloc := &allocation{deferFull: deferFull}
	for _, k := range slices.Sorted(maps.Keys(c.params)) {
		if skip[k] {
			continue
		}
		v, err := s.configValue(g, k, c.params[k], alloc)
		if err != nil {
			return err
		}
		next[k] = v
	}
	g.replaceConf(next)
	return nil
}

// configValue turns a parameter into what PVE writes to the config file:
// NICs get a MAC, STORAGE:SIZE allocates a volume, tags are normalised.
func (s *Server) configValue(g *guest, key, v string, alloc *allocation) (string, *apiError) {
	base := strings.TrimRightFunc(key, func(r rune) bool { return r >= '0' && r <= '9' })
	switch {
	case key == "tags":
		return normalizeTags(v), nil
	case base == "net" && g.kind == KindVM:
		return s.vmNet(v), nil
	case base == "net" && g.kind == KindCT:
		return s.ctNet(v), nil
	case g.kind == KindVM && (base == "scsi" || base == "virtio" || base == "sata" || base == "ide" || key == "efidisk0"):
		return s.allocDisk(g, v, "", alloc)
	case g.kind == KindCT && (key == "rootfs" || base == "mp"):
		return s.allocDisk(g, v, "volume", alloc)
	}
	return v, nil
}

// vmNet is qemu-server's print_net(parse_net(v)): model=MAC first, a
// new MAC when none is given, then the other keys in order.
func (s *Server) vmNet(v string) string {
	items := splitProps(v)
	model, mac := "", ""
	var rest []kv
	for _, it := range items {
		switch {
		case it.Key == "" || it.Key == "model":
			model = it.Value
		case it.Key == "macaddr":
			mac = it.Value
		case slices.Contains(netModels, it.Key):
			model, mac = it.Key, it.Value
		default:
			rest = append(rest, it)
		}
	}
	if mac == "" {
		mac = s.st.newMAC()
	}
	slices.SortStableFunc(rest, func(a, b kv) int { return strings.Compare(a.Key, b.Key) })
	return joinProps(append([]kv{{Key: model, Value: strings.ToUpper(mac)}}, rest...))
}

// ctNet is pve-container's network print: name first, hwaddr generated,
// type=veth.
func (s *Server) ctNet(v string) string {
	items := splitProps(v)
	name := ""
	var rest []kv
	hasMAC, hasType := false, false
	for _, it := range items {
		switch it.Key {
		case "name":
			name = it.Value
			continue
		case "hwaddr":
			hasMAC = true
			it.Value = strings.ToUpper(it.Value)
		case "type":
			hasType = true
		}
		rest = append(rest, it)
	}
	if !hasMAC {
		rest = append(rest, kv{Key: "hwaddr", Value: s.st.newMAC()})
	}
	if !hasType {
		rest = append(rest, kv{Key: "type", Value: "veth"})
	}
	slices.SortStableFunc(rest, func(a, b kv) int { return strings.Compare(a.Key, b.Key) })
	return joinProps(append([]kv{{Key: "name", Value: name}}, rest...))
}

// allocDisk allocates STORAGE:SIZE (GiB) volumes and STORAGE:cloudinit
// drives; other values are kept. volKey is the key of the volume in the
// property string ("" for the bare first value).
func (s *Server) allocDisk(g *guest, v, volKey string, alloc *allocation) (string, *apiError) {
	items := splitProps(v)
	idx := -1
	for i, it := range items {
		if it.Key == volKey || (volKey != "" && it.Key == "") {
			idx = i
			break
		}
	}
	if idx < 0 {
		return v, nil
	}
	stor, rest, ok := strings.Cut(items[idx].Value, ":")
	if !ok || strings.HasPrefix(items[idx].Value, "/") {
		return v, nil
	}
	st := s.st.storage(g.node, stor)
	if rest == "cloudinit" {
		if st == nil {
			return "", fail("storage '%s' does not exist", stor)
		}
		items[idx].Value = fmt.Sprintf("%s:vm-%d-cloudinit", stor, g.vmid)
		return propSet(joinProps(items), "media", "cdrom"), nil
	}
	gb, err := strconv.ParseFloat(rest, 64)
	if err != nil || strings.Contains(rest, "/") {
		return v, nil // an existing volume
	}
	if st == nil {
		return "", fail("storage '%s' does not exist", stor)
	}
	content := "images"
	if g.kind == KindCT {
		content = "rootdir"
	}
	if !st.has(content) {
		if g.kind == KindCT {
			return "", fail("storage '%s' does not support container directories", stor)
		}
		return "", fail("storage '%s' does not support vm images", stor)
	}
	size := uint64(gb * float64(gib))
	name := s.st.nextDiskName(g.vmid, stor, alloc.names)
	if msg := s.storageFull(st, name, size); msg != "" && !alloc.deferFull {
		return "", fail("%s", msg)
	}
	alloc.names = append(alloc.names, name)
	items[idx].Value = stor + ":" + name
	return propSet(joinProps(items), "size", formatSize(size)), nil
}

// allocation tracks the volumes one configuration change allocates.
type allocation struct {
	names     []string
	deferFull bool
}

// checkCapacity fails when a guest's storages hold more than they can,
// naming its largest volume there: what a create or clone task finds
// when it allocates.
func (s *Server) checkCapacity(g *guest) error {
	vols := slices.Clone(g.volumes())
	slices.SortStableFunc(vols, func(a, b volume) int { return cmp.Compare(b.size, a.size) })
	for _, v := range vols {
		st := s.st.storage(g.node, v.storage)
		if st == nil || v.linked {
			continue
		}
		if used := s.st.used(st); used > st.Size {
			var free uint64
			if before := used - v.size; before < st.Size {
				free = st.Size - before
			}
			return errors.New(storageMsg(st, v.name, free, v.size))
		}
	}
	return nil
}

// storageFull says why size more bytes do not fit on st, as the storage
// plugin would complain, or "".
func (s *Server) storageFull(st *storage, volname string, size uint64) string {
	if avail := s.st.avail(st); size > avail {
		return storageMsg(st, volname, avail, size)
	}
	return ""
}

// storageMsg is the storage plugin's complaint about size bytes that do
// not fit in free.
func storageMsg(st *storage, volname string, free, size uint64) string {
	const extent = 4 << 20
	switch st.Type {
	case "lvm", "lvmthin":
		return fmt.Sprintf("lvcreate 'pve/%s' error:   Volume group \"pve\" has insufficient free space (%d extents): %d required.", volname, free/extent, (size+extent-1)/extent)
	}
	return fmt.Sprintf("qemu-img: Could not create '/mnt/pve/%s/images/%s': No space left on device", st.Name, volname)
}
