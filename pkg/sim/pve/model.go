package pve

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is a guest type: a QEMU VM or an LXC container.
type Kind string

// Guest kinds, named as PVE's resource types.
const (
	KindVM Kind = "qemu"
	KindCT Kind = "lxc"
)

// Guest is a snapshot of one guest. Config holds every configuration key
// as PVE stores it (strings, property strings unparsed); Name, Tags and
// Description repeat name (hostname for containers), tags and
// description from it.
type Guest struct {
	VMID        int
	Kind        Kind
	Node        string
	Name        string
	Status      string // "running" or "stopped"
	Template    bool
	Lock        string
	Tags        string
	Description string
	Config      map[string]string
	// Instance is new each time PVE creates the guest (create, clone):
	// a guest destroyed and created again under the same VMID has
	// another. Empty for templates.
	Instance string
	// HostKey is the SSH host key (OpenSSH PEM, ed25519) the guest's disk
	// holds: see identity.go. Nil for templates.
	HostKey []byte
}

type guest struct {
	vmid      int
	kind      Kind
	node      string
	running   bool
	lock      string
	conf      map[string]string
	startedAt time.Time
	agentAt   time.Time
	pid       int
	agentIPs  []string // CIDRs the agent reports instead of ipconfig0's
	id        identity // what its disk holds of its own

	// parsed remembers the volume each disk entry's value names (a
	// value always names the same one), so that volumes, asked for every
	// guest on every capacity check, parses each value once.
	parsedMu sync.Mutex
	parsed   map[diskEntry]parsedVolume
	// vols is what volumes last returned, until the config changes
	// (setConf, replaceConf): the capacity checks and free disk names
	// walk every guest's volumes, and a 1,000-guest lab asked often.
	vols      []volume
	volsValid bool
}

// setConf sets one key of g's config.
func (g *guest) setConf(k, v string) {
	g.conf[k] = v
	g.dropVolumes()
}

// replaceConf replaces g's config.
func (g *guest) replaceConf(next map[string]string) {
	g.conf = next
	g.dropVolumes()
}

// dropVolumes forgets the volumes remembered from the old config.
func (g *guest) dropVolumes() {
	g.parsedMu.Lock()
	g.vols, g.volsValid = nil, false
	g.parsedMu.Unlock()
}

// diskEntry is one disk key of a config and its value.
type diskEntry struct{ key, value string }

// parsedVolume is what volumes makes of a disk entry; ok is false for an
// entry that names no volume (a CD-ROM, a path).
type parsedVolume struct {
	v  volume
	ok bool
}

func (g *guest) name() string {
	if g.kind == KindCT {
		return g.conf["hostname"]
	}
	return g.conf["name"]
}

func (g *guest) template() bool { return g.conf["template"] == "1" }

func (g *guest) status() string {
	if g.running {
		return "running"
	}
	return "stopped"
}

// word is how PVE names the guest type in messages.
func (g *guest) word() string {
	if g.kind == KindCT {
		return "CT"
	}
	return "VM"
}

func (g *guest) snapshot() Guest {
	return Guest{
		VMID: g.vmid, Kind: g.kind, Node: g.node, Name: g.name(), Status: g.status(),
		Template: g.template(), Lock: g.lock, Tags: g.conf["tags"],
		Description: g.conf["description"], Config: maps.Clone(g.conf),
		Instance: g.id.instance, HostKey: slices.Clone(g.id.hostKey),
	}
}

// digest is the SHA-1 PVE reports for a configuration.
func (g *guest) digest() string {
	keys := slices.Sorted(maps.Keys(g.conf))
	h := sha1.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s: %s\n", k, g.conf[k])
	}
	if g.lock != "" {
		fmt.Fprintf(h, "lock: %s\n", g.lock)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type node struct {
	NodeSpec
	id     int // corosync node id, 1-based
	online bool
}

type storage struct {
	StorageSpec
	node string // "" for a shared storage
}

func (st *storage) has(content string) bool {
	return slices.Contains(strings.Split(st.Content, ","), content)
}

// state is the simulated cluster.
type state struct {
	nodes    []*node
	storages map[string]*storage // "node/name", or "/name" when shared
	ctTmpls  []string
	guests   map[int]*guest
	tasks    map[string]*task
	order    []*task
	pidSeq   int
	macSeq   int
	boot     time.Time
}

func newState(o Options, now time.Time) (*state, error) {
	st := &state{
		storages: map[string]*storage{},
		guests:   map[int]*guest{},
		tasks:    map[string]*task{},
		pidSeq:   0x1000,
		boot:     now.Add(-72 * time.Hour),
		ctTmpls:  o.CTTemplates,
	}
	for i, n := range o.Nodes {
		st.nodes = append(st.nodes, &node{NodeSpec: n, id: i + 1, online: !n.Offline})
	}
	for _, spec := range o.Storages {
		if spec.Shared {
			st.storages["/"+spec.Name] = &storage{StorageSpec: spec}
			continue
		}
		for _, n := range st.nodes {
			if len(spec.Nodes) == 0 || slices.Contains(spec.Nodes, n.Name) {
				st.storages[n.Name+"/"+spec.Name] = &storage{StorageSpec: spec, node: n.Name}
			}
		}
	}
	for _, v := range o.CTTemplates {
		if _, _, ok := strings.Cut(v, ":vztmpl/"); !ok {
			return nil, fmt.Errorf("container template %q: want storage:vztmpl/file", v)
		}
	}
	for _, t := range o.VMTemplates {
		if err := st.seedTemplate(t); err != nil {
			return nil, fmt.Errorf("VM template %d: %w", t.VMID, err)
		}
	}
	return st, nil
}

func (st *state) node(name string) *node {
	for _, n := range st.nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// storage returns the storage named name as node sees it.
func (st *state) storage(nodeName, name string) *storage {
	if s, ok := st.storages[nodeName+"/"+name]; ok {
		return s
	}
	if s, ok := st.storages["/"+name]; ok && (len(s.Nodes) == 0 || slices.Contains(s.Nodes, nodeName)) {
		return s
	}
	return nil
}

// nodeStorages lists the storages node sees, sorted by name.
func (st *state) nodeStorages(nodeName string) []*storage {
	var out []*storage
	for _, s := range st.storages {
		if s.node == nodeName || (s.Shared && st.storage(nodeName, s.Name) == s) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (st *state) seedTemplate(t VMTemplateSpec) error {
	if st.node(t.Node) == nil {
		return fmt.Errorf("unknown node %q", t.Node)
	}
	if t.Storage == "" {
		t.Storage = "local-lvm"
	}
	if t.DiskSize == 0 {
		t.DiskSize = 2 * gib
	}
	if t.Name == "" {
		t.Name = fmt.Sprintf("template-%d", t.VMID)
	}
	conf := map[string]string{
		"name":      t.Name,
		"template":  "1",
		"agent":     "1",
		"boot":      "order=scsi0",
		"cores":     "1",
		"memory":    "1024",
		"ostype":    "l26",
		"scsihw":    "virtio-scsi-single",
		"scsi0":     fmt.Sprintf("%s:base-%d-disk-0,size=%s", t.Storage, t.VMID, formatSize(t.DiskSize)),
		"ide2":      fmt.Sprintf("%s:vm-%d-cloudinit,media=cdrom", t.Storage, t.VMID),
		"net0":      "virtio=" + st.newMAC() + ",bridge=vmbr0",
		"serial0":   "socket",
		"vga":       "serial0",
		"smbios1":   "uuid=" + fakeUUID(t.VMID, 0),
		"vmgenid":   fakeUUID(t.VMID, 1),
		"meta":      "creation-qemu=9.2.0,ctime=1735689600",
		"ipconfig0": "ip=dhcp",
	}
	maps.Copy(conf, t.Config)
	return st.addGuest(Guest{VMID: t.VMID, Kind: KindVM, Node: t.Node, Config: conf})
}

// addGuest adds a guest from a snapshot.
func (st *state) addGuest(g Guest) error {
	if g.VMID < 100 || g.VMID > 999999999 {
		return fmt.Errorf("vmid %d out of range", g.VMID)
	}
	if other, ok := st.guests[g.VMID]; ok {
		return fmt.Errorf("%s %d already exists on node '%s'", other.word(), g.VMID, other.node)
	}
	if st.node(g.Node) == nil {
		return fmt.Errorf("unknown node %q", g.Node)
	}
	switch g.Kind {
	case KindVM, KindCT:
	default:
		return fmt.Errorf("unknown kind %q", g.Kind)
	}
	conf := maps.Clone(g.Config)
	if conf == nil {
		conf = map[string]string{}
	}
	nameKey := "name"
	if g.Kind == KindCT {
		nameKey = "hostname"
	}
	if g.Name != "" {
		conf[nameKey] = g.Name
	}
	if g.Tags != "" {
		conf["tags"] = normalizeTags(g.Tags)
	}
	if g.Description != "" {
		conf["description"] = g.Description
	}
	if g.Template {
		conf["template"] = "1"
	}
	if _, ok := conf["memory"]; !ok {
		conf["memory"] = "512"
	}
	ng := &guest{vmid: g.VMID, kind: g.Kind, node: g.Node, conf: conf, lock: g.Lock}
	if !ng.template() {
		id, err := newIdentity(ng.name())
		if err != nil {
			return err
		}
		ng.id = id
	}
	if g.Status == "running" {
		ng.running = true
		ng.pid = st.nextPID()
	}
	st.guests[g.VMID] = ng
	return nil
}

func (st *state) nextPID() int {
	st.pidSeq += 7
	return st.pidSeq
}

// newMAC is a locally unique address in Proxmox's OUI, as PVE generates
// for a NIC given without one.
func (st *state) newMAC() string {
	st.macSeq++
	n := st.macSeq
	return fmt.Sprintf("BC:24:11:%02X:%02X:%02X", (n>>16)&0xff, (n>>8)&0xff, n&0xff)
}

func fakeUUID(vmid, salt int) string {
	h := sha1.Sum([]byte(fmt.Sprintf("%d/%d", vmid, salt)))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// nextFreeID is the lowest unused VMID, as /cluster/nextid answers.
func (st *state) nextFreeID() int {
	for id := 100; ; id++ {
		if _, ok := st.guests[id]; !ok {
			return id
		}
	}
}

// normalizeTags is PVE's get_unique_tags: split on ; , or space, lower
// case, de-duplicated and sorted.
func normalizeTags(s string) string {
	var out []string
	for _, t := range splitList(s) {
		t = strings.ToLower(t)
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ";")
}

// formatSize is pve-common's format_size.
func formatSize(size uint64) string {
	units := []string{"K", "M", "G", "T"}
	if size%1024 != 0 || size == 0 {
		return strconv.FormatUint(size, 10)
	}
	v := size / 1024
	for i, u := range units {
		if v%1024 != 0 || i == len(units)-1 {
			return strconv.FormatUint(v, 10) + u
		}
		v /= 1024
	}
	return strconv.FormatUint(size, 10)
}

var reSize = regexp.MustCompile(`^(\d+(?:\.\d+)?)([KMGT]?)$`)

// parseSize reads a disk size (bytes without a unit, as PVE does).
func parseSize(s string) (uint64, bool) {
	m := reSize.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m[2]]
	return uint64(f * mult), true
}

var reDiskKey = regexp.MustCompile(`^(scsi|virtio|sata|ide|unused|mp)\d+$|^(efidisk0|tpmstate0|rootfs)$`)

// volume is a disk a guest configuration refers to.
type volume struct {
	key, storage, name string
	size               uint64
	linked             bool // a linked clone shares its base's blocks
}

// volumes lists g's volumes on storages (not CD-ROM images or paths).
// The slice is shared until the config changes: callers must not modify
// it.
func (g *guest) volumes() []volume {
	g.parsedMu.Lock()
	defer g.parsedMu.Unlock()
	if g.volsValid {
		return g.vols
	}
	keys := make([]string, 0, 4)
	for k := range g.conf {
		if diskKey(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []volume
	if g.parsed == nil {
		g.parsed = map[diskEntry]parsedVolume{}
	}
	for _, k := range keys {
		e := diskEntry{k, g.conf[k]}
		p, ok := g.parsed[e]
		if !ok {
			p = parseVolume(k, e.value)
			g.parsed[e] = p
		}
		if p.ok {
			out = append(out, p.v)
		}
	}
	g.vols, g.volsValid = slices.Clip(out), true
	return g.vols
}

// parseVolume reads the volume the disk entry k: v names.
func parseVolume(k, v string) parsedVolume {
	if propGet(v, "media") == "cdrom" && !strings.Contains(v, "cloudinit") {
		return parsedVolume{}
	}
	vol := propGet(v, "")
	if vol == "" {
		vol = propGet(v, "volume")
	}
	stor, name, ok := strings.Cut(vol, ":")
	if !ok || strings.HasPrefix(vol, "/") {
		return parsedVolume{}
	}
	size, _ := parseSize(propGet(v, "size"))
	if strings.Contains(name, "cloudinit") && size == 0 {
		size = 4 << 20
	}
	return parsedVolume{v: volume{key: k, storage: stor, name: name, size: size, linked: strings.Contains(name, "/")}, ok: true}
}

// diskKey is reDiskKey.MatchString without the regexp: volumes is asked
// for every guest on every capacity check, and the regexp was most of a
// 1,000-guest lab's time.
func diskKey(k string) bool {
	switch k {
	case "efidisk0", "tpmstate0", "rootfs":
		return true
	}
	for _, prefix := range [...]string{"scsi", "virtio", "sata", "ide", "unused", "mp"} {
		if n, ok := strings.CutPrefix(k, prefix); ok {
			if n == "" {
				return false
			}
			for _, c := range n {
				if c < '0' || c > '9' {
					return false
				}
			}
			return true
		}
	}
	return false
}

// used is what a storage holds: its base usage and the guests' volumes.
func (st *state) used(s *storage) uint64 {
	total := s.Used
	for _, g := range st.guests {
		for _, v := range g.volumes() {
			if v.linked || st.storage(g.node, v.storage) != s {
				continue
			}
			total += v.size
		}
	}
	return total
}

func (st *state) avail(s *storage) uint64 {
	u := st.used(s)
	if u >= s.Size {
		return 0
	}
	return s.Size - u
}

// memoryBytes is a guest's configured memory.
func (g *guest) memoryBytes() uint64 {
	m := g.conf["memory"]
	if v := propGet(m, "current"); v != "" {
		m = v
	} else {
		m = propGet(m, "")
	}
	mb, err := strconv.ParseUint(m, 10, 64)
	if err != nil {
		mb = 512
	}
	return mb << 20
}

func (g *guest) cpus() int {
	cores, err := strconv.Atoi(g.conf["cores"])
	if err != nil || cores < 1 {
		cores = 1
	}
	if g.kind == KindVM {
		if sockets, err := strconv.Atoi(g.conf["sockets"]); err == nil && sockets > 0 {
			cores *= sockets
		}
	}
	return cores
}

// rootDiskSize is the size of the boot disk (rootfs for containers).
func (g *guest) rootDiskSize() uint64 {
	vols := g.volumes()
	for _, want := range []string{"rootfs", "scsi0", "virtio0", "sata0", "ide0"} {
		for _, v := range vols {
			if v.key == want {
				return v.size
			}
		}
	}
	return 0
}

func (g *guest) uptime(now time.Time) uint64 {
	if !g.running || g.startedAt.IsZero() || now.Before(g.startedAt) {
		return 0
	}
	return uint64(now.Sub(g.startedAt) / time.Second)
}

// nextDiskName is the first free vm-<id>-disk-<n> on a storage.
func (st *state) nextDiskName(vmid int, stor string, taken []string) string {
	used := map[string]bool{}
	for _, t := range taken {
		used[t] = true
	}
	for _, g := range st.guests {
		for _, v := range g.volumes() {
			if v.storage == stor {
				used[v.name] = true
			}
		}
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("vm-%d-disk-%d", vmid, i)
		if !used[name] {
			return name
		}
	}
}
