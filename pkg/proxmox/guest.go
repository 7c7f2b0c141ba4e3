package proxmox

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	pve "github.com/luthermonson/go-proxmox"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

// Spec is one guest as the inventory wants it, in Proxmox's terms.
type Spec struct {
	Name string
	Kind string // inventory.KindVM or inventory.KindLXC
	Node string
	VMID int
	// Template is the VM template copy to clone (VMs).
	Template *inventory.VMTemplate
	// OSTemplate is the container template's volume ID (LXC).
	OSTemplate string
	Cores      int
	MemoryMiB  int
	DiskGiB    int
	Storage    string
	Bridge     string
	VLAN       int // 0: untagged
	MAC        string
	IP         netip.Prefix
	Gateway    netip.Addr
	DNS        []netip.Addr
	Domain     string
	SSHUser    string
	SSHKeys    []string
	Nesting    bool
	CIUpgrade  bool // cloud-init upgrades every package at first boot (VMs)
	// OnBoot starts the guest with its node (PVE onboot).
	OnBoot bool
	// Startup is PVE's startup property: "order=N[,up=N][,down=N]".
	Startup string
	// Agent sets PVE's agent option: the VM template runs the guest agent.
	Agent bool
	// Mark is the description that says homelab owns the guest
	// ("homelab:<inventory>:<guest>"); it is set at creation, before tags.
	Mark string
}

// SpecFor derives a guest's Spec from the inventory.
func SpecFor(inv *inventory.Inventory, g *inventory.Guest) (Spec, error) {
	n, ok := inv.Network(g.Network)
	if !ok {
		return Spec{}, fmt.Errorf("guest %s: unknown network %q", g.Name, g.Network)
	}
	s := Spec{
		Name: g.Name, Kind: g.Kind, Node: g.Node, VMID: g.VMID,
		Cores: g.Cores, MemoryMiB: g.Memory, DiskGiB: g.Disk, Storage: g.Storage,
		Bridge: n.Proxmox.Bridge, MAC: strings.ToUpper(g.MAC),
		IP: netip.PrefixFrom(g.IP, n.CIDR.Bits()), Gateway: n.Gateway, DNS: n.DNS, Domain: inv.Router.Domain,
		Nesting: g.Kind == inventory.KindLXC && (g.Nesting == nil || *g.Nesting), CIUpgrade: g.CloudInitUpgrade, Mark: fmt.Sprintf("homelab:%s:%s", inv.Name, g.Name),
		OnBoot: g.OnBoot == nil || *g.OnBoot, Startup: startupString(g.Startup),
	}
	if n.Proxmox.Tagged == nil || *n.Proxmox.Tagged {
		s.VLAN = n.VLAN
	}
	if g.SSH != nil {
		s.SSHUser = g.SSH.User
		s.SSHKeys = g.SSH.Keys
	}
	if g.Kind == inventory.KindVM {
		t, ok := inv.VMTemplate(g.Template, g.Node)
		if !ok {
			return Spec{}, fmt.Errorf("guest %s: no copy of VM template %q on node %s", g.Name, g.Template, g.Node)
		}
		s.Template = t
		s.Agent = t.Agent
	} else {
		for _, t := range inv.Proxmox.Templates.LXC {
			if t.Name == g.Template {
				s.OSTemplate = t.VolID
			}
		}
		if s.OSTemplate == "" {
			return Spec{}, fmt.Errorf("guest %s: unknown LXC template %q", g.Name, g.Template)
		}
	}
	return s, nil
}

// net0 is the guest's first NIC as PVE writes it.
func (s Spec) net0() string {
	var b strings.Builder
	if s.Kind == inventory.KindVM {
		fmt.Fprintf(&b, "virtio=%s,bridge=%s", s.MAC, s.Bridge)
	} else {
		fmt.Fprintf(&b, "name=eth0,bridge=%s,hwaddr=%s,ip=%s,gw=%s", s.Bridge, s.MAC, s.IP, s.Gateway)
	}
	if s.VLAN > 0 {
		fmt.Fprintf(&b, ",tag=%d", s.VLAN)
	}
	if s.Kind != inventory.KindVM {
		b.WriteString(",type=veth")
	}
	return b.String()
}

// startupString is PVE's startup property for st (nil: none).
func startupString(st *inventory.Startup) string {
	if st == nil {
		return ""
	}
	out := fmt.Sprintf("order=%d", st.Order)
	if st.Up > 0 {
		out += fmt.Sprintf(",up=%d", st.Up)
	}
	if st.Down > 0 {
		out += fmt.Sprintf(",down=%d", st.Down)
	}
	return out
}

// onboot is the onboot value PVE stores.
func (s Spec) onboot() string {
	if s.OnBoot {
		return "1"
	}
	return "0"
}

func (s Spec) nameservers() string {
	out := make([]string, len(s.DNS))
	for i, a := range s.DNS {
		out[i] = a.String()
	}
	return strings.Join(out, " ")
}

// wanted are the config keys homelab manages, with the values it wants.
// Keys marked live can change on a running guest; the others can change
// only while it is stopped (cloud-init and NICs are read at boot).
type wanted struct {
	key, value string
	live       bool
}

// same reports whether have, a config value ("" when absent), is what w
// wants; an absent key has the value PVE assumes for it.
func (w wanted) same(have string) bool {
	if have == "" {
		have = unsetValue(w.key)
	}
	return sameValue(w.key, have, w.value)
}

// unsetValue is the value PVE assumes for a key absent from a config, for
// the managed keys where it matters.
func unsetValue(key string) string {
	switch key {
	case "onboot":
		return "0"
	case "ciupgrade":
		return "1" // PVE 8.1+: cloud-init upgrades unless told not to
	}
	return ""
}

func (s Spec) wanted() []wanted {
	w := []wanted{
		{"cores", strconv.Itoa(s.Cores), true},
		{"memory", strconv.Itoa(s.MemoryMiB), true},
		{"net0", s.net0(), false},
		{"nameserver", s.nameservers(), false},
		{"searchdomain", s.Domain, false},
		// PVE applies onboot and startup at once, even to a running guest.
		{"onboot", s.onboot(), true},
	}
	if s.Startup != "" {
		w = append(w, wanted{"startup", s.Startup, true})
	}
	if s.Kind == inventory.KindVM {
		w = append(w,
			wanted{"ipconfig0", fmt.Sprintf("ip=%s,gw=%s", s.IP, s.Gateway), false},
		)
		// Only a template with the guest agent gets the option: without
		// the agent PVE's shutdown waits for it, then stops the VM hard.
		// Without it homelab leaves the key as the template has it.
		if s.Agent {
			w = append(w, wanted{"agent", "enabled=1", false})
		}
		w = append(w, wanted{"ciupgrade", map[bool]string{false: "0", true: "1"}[s.CIUpgrade], true}) // read at first boot only: set while running
		if s.SSHUser != "" {
			w = append(w, wanted{"ciuser", s.SSHUser, false})
		}
	} else {
		w = append(w, wanted{"hostname", s.Name, false})
	}
	return w
}

// GuestWork creates a guest and keeps its configuration as the inventory
// says, and never touches a guest that is not homelab's.
type GuestWork struct {
	Client *Client
	Spec   Spec
	// Replace allows rebuilding the guest when a change cannot be made in
	// place (homelab up --replace NAME).
	Replace bool
	// HostKeys, when set, forgets the SSH host keys of a guest homelab
	// creates (or rebuilds) and records a container's new ones from its
	// create task log.
	HostKeys HostKeys
}

// found is what observing a guest found; action is what to do about it.
type found struct {
	change  step.Change
	exists  bool
	running bool
	config  map[string]any
	rebuild bool
}

// Observe reads the cluster's guest list (shared by every step of the
// plan) and, for a guest that exists, its own config.
func (w GuestWork) Observe(ctx context.Context) (step.Change, error) {
	f, err := w.observe(ctx, false)
	return f.change, err
}

func (w GuestWork) observe(ctx context.Context, fresh bool) (found, error) {
	s := w.Spec
	if fresh {
		w.Client.Forget()
	}
	guests, err := w.Client.Guests(ctx)
	if err != nil {
		return found{}, err
	}
	var holder *pve.ClusterResource
	for i := range guests {
		g := &guests[i]
		switch {
		case int(g.VMID) == s.VMID:
			holder = g
		case g.Name == s.Name && g.Template == 0:
			return found{change: step.Change{Action: step.Conflict, Reason: fmt.Sprintf("a guest named %s already exists as %d on %s: homelab will not touch it; free the name or change the inventory", s.Name, g.VMID, g.Node)}}, nil
		}
	}
	node, kind := s.Node, s.Kind
	if holder != nil {
		node, kind = holder.Node, map[string]string{"qemu": inventory.KindVM, "lxc": inventory.KindLXC}[holder.Type]
	}
	// The list lags behind on real clusters: the guest's own endpoint on
	// its node has the final word.
	cfg, ok, err := w.Client.config(ctx, node, kind, s.VMID)
	if err != nil {
		return found{}, err
	}
	if !ok && holder != nil && node != s.Node {
		cfg, ok, err = w.Client.config(ctx, s.Node, s.Kind, s.VMID)
		if err != nil {
			return found{}, err
		}
		node, kind = s.Node, s.Kind
	}
	if !ok {
		return found{change: step.Change{Action: step.Create, Fields: w.createFields()}}, nil
	}
	if !owned(cfg) {
		return found{exists: true, change: step.Change{Action: step.Conflict,
			Reason: fmt.Sprintf("vmid %d (%q on %s) exists without homelab's mark: homelab will not touch it", s.VMID, str(cfg["name"])+str(cfg["hostname"]), node)}}, nil
	}
	if node != s.Node || kind != s.Kind {
		return w.needsRebuild(found{exists: true, config: cfg}, fmt.Sprintf("it is a %s on %s, the inventory wants a %s on %s", kind, node, s.Kind, s.Node)), nil
	}
	status, err := w.Client.status(ctx, node, kind, s.VMID)
	if err != nil {
		return found{}, err
	}
	f := found{exists: true, running: status == "running", config: cfg}
	var fields, blocked []step.Field
	for _, want := range s.wanted() {
		have := str(cfg[want.key])
		if want.same(have) {
			continue
		}
		field := step.Field{Name: want.key, Old: have, New: want.value}
		if f.running && !want.live {
			blocked = append(blocked, field)
		} else {
			fields = append(fields, field)
		}
	}
	if !hasTag(str(cfg["tags"]), OwnerTag) {
		fields = append(fields, step.Field{Name: "tags", Old: str(cfg["tags"]), New: addTag(str(cfg["tags"]), OwnerTag)})
	}
	if size := diskGiB(cfg, s.Kind); size < s.DiskGiB {
		fields = append(fields, step.Field{Name: "disk", Old: fmt.Sprintf("%dG", size), New: fmt.Sprintf("%dG", s.DiskGiB)})
	} else if size > s.DiskGiB {
		blocked = append(blocked, step.Field{Name: "disk", Old: fmt.Sprintf("%dG", size), New: fmt.Sprintf("%dG", s.DiskGiB)})
	}
	if len(blocked) > 0 {
		names := make([]string, len(blocked))
		for i, b := range blocked {
			names[i] = b.Name
		}
		f.change.Fields = append(fields, blocked...)
		return w.needsRebuild(f, fmt.Sprintf("%s cannot change in place (the guest runs, or a disk would shrink)", strings.Join(names, ", "))), nil
	}
	if len(fields) == 0 {
		f.change = step.Change{Action: step.None}
		return f, nil
	}
	f.change = step.Change{Action: step.Update, Fields: fields}
	return f, nil
}

func (w GuestWork) needsRebuild(f found, why string) found {
	if w.Replace {
		f.rebuild = true
		f.change = step.Change{Action: step.Update, Fields: append(f.change.Fields, step.Field{Name: "rebuild", Old: "", New: "yes"}),
			Reason: "replaced as asked: " + why + "; the guest is stopped, deleted and created again"}
		return f
	}
	f.change = step.Change{Action: step.Conflict, Fields: f.change.Fields,
		Reason: fmt.Sprintf("%s needs a rebuild: %s; pass --replace %s to rebuild it", w.Spec.Name, why, w.Spec.Name)}
	return f
}

func (w GuestWork) createFields() []step.Field {
	s := w.Spec
	from := s.OSTemplate
	if s.Template != nil {
		from = fmt.Sprintf("%s (%d on %s)", s.Template.Name, s.Template.VMID, s.Template.Node)
	}
	fields := []step.Field{step.Set("node", s.Node), step.Set("vmid", strconv.Itoa(s.VMID)), step.Set("from", from)}
	for _, want := range s.wanted() {
		fields = append(fields, step.Set(want.key, want.value))
	}
	return append(fields, step.Set("disk", fmt.Sprintf("%dG on %s", s.DiskGiB, s.Storage)), step.Set("tags", OwnerTag))
}

// Apply observes the guest again through its own endpoints, then creates,
// updates or (when asked) rebuilds it.
func (w GuestWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	f, err := w.observe(ctx, true)
	if err != nil {
		return err
	}
	defer w.Client.Forget()
	switch f.change.Action {
	case step.None:
		return nil
	case step.Conflict:
		return fmt.Errorf("guest %s: %s", w.Spec.Name, f.change.Reason)
	case step.Create:
		return w.create(ctx, out)
	}
	if f.rebuild {
		if err := w.Client.remove(ctx, w.Spec.Node, w.Spec.Kind, w.Spec.VMID, out); err != nil {
			return err
		}
		return w.create(ctx, out)
	}
	return w.update(ctx, f, out)
}

func (w GuestWork) create(ctx context.Context, out io.Writer) error {
	s := w.Spec
	api := w.Client.API()
	if w.HostKeys != nil {
		// A new guest is a new machine: whatever was known of the keys
		// at its address belongs to another.
		if err := w.HostKeys.Forget(s.Name); err != nil {
			return fmt.Errorf("guest %s: %w", s.Name, err)
		}
	}
	if s.Kind == inventory.KindVM {
		tmpl := &pve.VirtualMachine{}
		tmpl.New(api, s.Template.Node, s.Template.VMID)
		opts := &pve.VirtualMachineCloneOptions{NewID: s.VMID, Name: s.Name, Full: pve.IntOrBool(true), Storage: s.Storage, Description: s.Mark}
		if s.Template.Node != s.Node {
			opts.Target = s.Node
		}
		_, task, err := tmpl.Clone(ctx, opts)
		if err != nil {
			return classify(fmt.Errorf("clone %s from %d on %s: %w", s.Name, s.Template.VMID, s.Template.Node, err))
		}
		if _, err := w.Client.waitLog(ctx, task, "clone "+s.Name, out); err != nil {
			return err
		}
		fmt.Fprintf(out, "cloned %s (%d) on %s from %d\n", s.Name, s.VMID, s.Node, s.Template.VMID)
		cfg, _, err := w.Client.config(ctx, s.Node, s.Kind, s.VMID)
		if err != nil {
			return err
		}
		return w.update(ctx, found{exists: true, config: cfg, change: step.Change{Fields: w.allFields(cfg)}}, out)
	}
	node := &pve.Node{}
	node = node.New(api, s.Node)
	opts := []pve.ContainerOption{
		{Name: "ostemplate", Value: s.OSTemplate},
		{Name: "hostname", Value: s.Name},
		{Name: "cores", Value: s.Cores},
		{Name: "memory", Value: s.MemoryMiB},
		{Name: "rootfs", Value: fmt.Sprintf("%s:%d", s.Storage, s.DiskGiB)},
		{Name: "net0", Value: s.net0()},
		{Name: "nameserver", Value: s.nameservers()},
		{Name: "searchdomain", Value: s.Domain},
		{Name: "unprivileged", Value: 1},
		{Name: "tags", Value: OwnerTag},
		{Name: "description", Value: s.Mark},
		{Name: "onboot", Value: s.onboot()},
	}
	if s.Startup != "" {
		opts = append(opts, pve.ContainerOption{Name: "startup", Value: s.Startup})
	}
	if s.Nesting {
		opts = append(opts, pve.ContainerOption{Name: "features", Value: "nesting=1"})
	}
	if len(s.SSHKeys) > 0 {
		opts = append(opts, pve.ContainerOption{Name: "ssh-public-keys", Value: strings.Join(s.SSHKeys, "\n")})
	}
	task, err := node.NewContainer(ctx, s.VMID, opts...)
	if err != nil {
		return classify(fmt.Errorf("create container %s (%d) on %s: %w", s.Name, s.VMID, s.Node, err))
	}
	log, err := w.Client.waitLog(ctx, task, "create container "+s.Name, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "created container %s (%d) on %s from %s\n", s.Name, s.VMID, s.Node, s.OSTemplate)
	if fps := logFingerprints(log); w.HostKeys != nil && len(fps) > 0 {
		if err := w.HostKeys.Expect(s.Name, fps, fmt.Sprintf("the create task log of CT %d", s.VMID)); err != nil {
			return fmt.Errorf("guest %s: %w", s.Name, err)
		}
		fmt.Fprintf(out, "recorded the host key fingerprints of %s from the create task log: %s\n", s.Name, strings.Join(fps, ", "))
	}
	return nil
}

// allFields lists every managed key that differs from a fresh clone's
// config, plus the tags, the SSH keys and the disk.
func (w GuestWork) allFields(cfg map[string]any) []step.Field {
	var fields []step.Field
	for _, want := range w.Spec.wanted() {
		if have := str(cfg[want.key]); !want.same(have) {
			fields = append(fields, step.Field{Name: want.key, Old: have, New: want.value})
		}
	}
	fields = append(fields, step.Field{Name: "tags", Old: str(cfg["tags"]), New: addTag(str(cfg["tags"]), OwnerTag)})
	if len(w.Spec.SSHKeys) > 0 {
		fields = append(fields, step.Field{Name: "sshkeys", New: strings.Join(w.Spec.SSHKeys, "\n")})
	}
	if size := diskGiB(cfg, w.Spec.Kind); size < w.Spec.DiskGiB {
		fields = append(fields, step.Field{Name: "disk", Old: fmt.Sprintf("%dG", size), New: fmt.Sprintf("%dG", w.Spec.DiskGiB)})
	}
	return fields
}

// update sets the fields that differ (one synchronous config call), then
// grows the disk if it must.
func (w GuestWork) update(ctx context.Context, f found, out io.Writer) error {
	s := w.Spec
	var disk string
	var opts []pve.VirtualMachineOption
	var copts []pve.ContainerOption
	for _, field := range f.change.Fields {
		switch field.Name {
		case "disk":
			disk = field.New
			continue
		case "rebuild":
			continue
		}
		value := any(field.New)
		if field.Name == "sshkeys" {
			value = pve.EncodeSSHKeys(s.SSHKeys...)
		}
		opts = append(opts, pve.VirtualMachineOption{Name: field.Name, Value: value})
		copts = append(copts, pve.ContainerOption{Name: field.Name, Value: value})
	}
	api := w.Client.API()
	if len(opts) > 0 {
		var err error
		if s.Kind == inventory.KindVM {
			vm := &pve.VirtualMachine{}
			vm.New(api, s.Node, s.VMID)
			err = vm.ConfigSync(ctx, opts...)
		} else {
			err = api.Put(ctx, guestPath(s.Node, s.Kind, s.VMID)+"/config", containerParams(copts), nil)
		}
		if err != nil {
			return classify(fmt.Errorf("configure %s (%d): %w", s.Name, s.VMID, err))
		}
		fmt.Fprintf(out, "configured %d field(s) of %s\n", len(opts), s.Name)
	}
	if disk != "" {
		var task *pve.Task
		var err error
		if s.Kind == inventory.KindVM {
			vm := &pve.VirtualMachine{}
			vm.New(api, s.Node, s.VMID)
			task, err = vm.ResizeDisk(ctx, "scsi0", disk)
		} else {
			var upid pve.UPID
			err = api.Put(ctx, guestPath(s.Node, s.Kind, s.VMID)+"/resize", map[string]string{"disk": "rootfs", "size": disk}, &upid)
			task = pve.NewTask(upid, api)
		}
		if err != nil {
			return classify(fmt.Errorf("resize the disk of %s to %s: %w", s.Name, disk, err))
		}
		if err := w.Client.wait(ctx, task, "resize "+s.Name); err != nil {
			return err
		}
		fmt.Fprintf(out, "grew the disk of %s to %s\n", s.Name, disk)
	}
	return nil
}

func containerParams(opts []pve.ContainerOption) map[string]any {
	m := make(map[string]any, len(opts))
	for _, o := range opts {
		m[o.Name] = o.Value
	}
	return m
}

// remove stops and deletes a guest homelab owns. Absent counts as done.
func (c *Client) remove(ctx context.Context, node, kind string, vmid int, out io.Writer) error {
	cfg, ok, err := c.config(ctx, node, kind, vmid)
	if err != nil || !ok {
		return err
	}
	if !owned(cfg) {
		return fmt.Errorf("remove %d on %s: it does not carry homelab's mark; homelab will not delete it", vmid, node)
	}
	path := guestPath(node, kind, vmid)
	status, err := c.status(ctx, node, kind, vmid)
	if err != nil {
		return err
	}
	if status == "running" {
		var upid pve.UPID
		if err := c.api.Post(ctx, path+"/status/stop", nil, &upid); err != nil {
			return classify(fmt.Errorf("stop %d on %s: %w", vmid, node, err))
		}
		if err := c.wait(ctx, pve.NewTask(upid, c.api), fmt.Sprintf("stop %d", vmid)); err != nil {
			return err
		}
	}
	var upid pve.UPID
	if err := c.api.Delete(ctx, path+"?purge=1&destroy-unreferenced-disks=1", &upid); err != nil {
		if missing(err) {
			return nil
		}
		return classify(fmt.Errorf("delete %d on %s: %w", vmid, node, err))
	}
	if err := c.wait(ctx, pve.NewTask(upid, c.api), fmt.Sprintf("delete %d", vmid)); err != nil {
		return err
	}
	fmt.Fprintf(out, "deleted %d on %s\n", vmid, node)
	return nil
}

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

// OwnedGuest is a guest that carries an inventory's mark.
type OwnedGuest struct {
	Name string
	Node string
	Kind string
	VMID int
}

// OwnedGuests lists the guests that belong to inventory inv: those whose
// description carries "homelab:<inv>:", and those with the owner tag whose
// vmid the inventory names. Configs are read only for guests that carry
// the tag or whose vmid the inventory names.
func (c *Client) OwnedGuests(ctx context.Context, inv string, vmids []int) ([]OwnedGuest, error) {
	c.Forget()
	guests, err := c.Guests(ctx)
	if err != nil {
		return nil, err
	}
	var out []OwnedGuest
	for _, g := range guests {
		named := slices.Contains(vmids, int(g.VMID))
		if !named && !hasTag(g.Tags, OwnerTag) {
			continue
		}
		kind := inventory.KindVM
		if g.Type == "lxc" {
			kind = inventory.KindLXC
		}
		cfg, ok, err := c.config(ctx, g.Node, kind, int(g.VMID))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		// Another inventory's mark wins over a shared vmid.
		mine := named && hasTag(str(cfg["tags"]), OwnerTag)
		if desc := str(cfg["description"]); strings.HasPrefix(desc, "homelab:") {
			mine = strings.HasPrefix(desc, "homelab:"+inv+":")
		}
		if mine {
			out = append(out, OwnedGuest{Name: g.Name, Node: g.Node, Kind: kind, VMID: int(g.VMID)})
		}
	}
	return out, nil
}

// RemoveGuest stops and deletes a guest that carries homelab's mark; a
// guest already gone counts as removed.
func (c *Client) RemoveGuest(ctx context.Context, g OwnedGuest, out io.Writer) error {
	defer c.Forget()
	return c.remove(ctx, g.Node, g.Kind, g.VMID, out)
}
