package proxmox

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	pve "github.com/luthermonson/go-proxmox"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

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
	// Intent is the fields the plan shows for a create (the step's intent):
	// a guest not there yet is shown the same observed as offline, so a
	// plan saved offline applies to a lab without it. Empty: the fields
	// are listed from Spec.
	Intent []step.Field
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
		fields := w.Intent
		if len(fields) == 0 {
			fields = w.createFields()
		}
		return found{change: step.Change{Action: step.Create, Fields: fields}}, nil
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
		f.change = step.Change{Action: step.Replace, Fields: f.change.Fields,
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
