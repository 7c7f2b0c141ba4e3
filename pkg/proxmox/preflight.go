package proxmox

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	pve "github.com/luthermonson/go-proxmox"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

// Requirement is a privilege homelab needs on an ACL path: any one of
// Privs will do (PVE accepts VM.Config.Network for cloud-init keys).
// For says what needs it, for people.
type Requirement struct {
	Path  string
	Privs []string
	For   string
}

func (r Requirement) String() string {
	return strings.Join(r.Privs, " or ") + " on " + r.Path
}

// MissingPrivilegesError is the preflight's answer when the API token
// lacks privileges: every missing one with its path, found before
// anything was written.
type MissingPrivilegesError struct {
	// Token is the API token's ID, when the caller knows it.
	Token string
	// Missing lists each missing privilege once per path, sorted by path;
	// For joins what needs it.
	Missing []Requirement
}

func (e *MissingPrivilegesError) Error() string {
	var b strings.Builder
	token := "the Proxmox API token"
	if e.Token != "" {
		token += " " + e.Token
	}
	fmt.Fprintf(&b, "%s lacks %d privilege(s) this plan needs; nothing was changed:", token, len(e.Missing))
	// One line per privilege: the paths it is missing on, and what needs
	// it on the first of them.
	var order []string
	lines := map[string][]Requirement{}
	for _, r := range e.Missing {
		k := strings.Join(r.Privs, " or ")
		if _, ok := lines[k]; !ok {
			order = append(order, k)
		}
		lines[k] = append(lines[k], r)
	}
	for _, k := range order {
		rs := lines[k]
		paths := make([]string, len(rs))
		for i, r := range rs {
			paths[i] = r.Path
		}
		fmt.Fprintf(&b, "\n  %s on %s (%s)", k, strings.Join(paths, ", "), rs[0].For)
	}
	b.WriteString("\ngrant them to the token (docs/dr-runbook.md, \"Proxmox privileges\") and run again")
	return b.String()
}

// PrivilegedWork is work that calls the PVE API: it says which
// privileges the calls need.
type PrivilegedWork interface {
	Privileges() []Requirement
}

// templateWork is work that clones a VM template; the preflight reads the
// template's NICs, since the clone keeps them and PVE checks SDN.Use on
// their bridges.
type templateWork interface {
	clonesFrom() *inventory.VMTemplate
}

// Privileges lists everything creating, configuring, reading and (with
// --replace) rebuilding the guest may call, as PVE 8/9 checks it
// (qemu-server's create/clone/update_vm_api, pve-container's create_vm).
func (w GuestWork) Privileges() []Requirement { return w.Spec.privileges() }

func (w GuestWork) clonesFrom() *inventory.VMTemplate {
	if w.Spec.Kind == inventory.KindVM {
		return w.Spec.Template
	}
	return nil
}

// Privileges: reading the guest's status and starting it, and, for a VM
// whose template has the guest agent, reading its SSH host key through the
// agent (see learnHostKey).
func (w BootWork) Privileges() []Requirement {
	vm := vmPath(w.Spec.VMID)
	out := []Requirement{
		{Path: vm, Privs: []string{"VM.Audit"}, For: "read " + w.Spec.Name},
		{Path: vm, Privs: []string{"VM.PowerMgmt"}, For: "start " + w.Spec.Name},
	}
	if w.HostKeys != nil && w.Spec.Kind == inventory.KindVM && w.Spec.Template != nil && w.Spec.Template.Agent {
		out = append(out, Requirement{Path: vm, Privs: []string{"VM.GuestAgent.FileRead", "VM.GuestAgent.Unrestricted"},
			For: "read the SSH host key of " + w.Spec.Name + " through the guest agent"})
	}
	return out
}

func vmPath(vmid int) string { return "/vms/" + strconv.Itoa(vmid) }

// SDNPath is the ACL path PVE checks SDN.Use on for a NIC on bridge,
// tagged with vlan (0: untagged); a grant on the bridge propagates to its
// VLANs.
func SDNPath(bridge string, vlan int) string {
	p := "/sdn/zones/localnetwork/" + bridge
	if vlan > 0 {
		p += "/" + strconv.Itoa(vlan)
	}
	return p
}

func (s Spec) privileges() []Requirement {
	vm, name := vmPath(s.VMID), s.Name
	out := []Requirement{
		{Path: vm, Privs: []string{"VM.Audit"}, For: "read " + name},
		{Path: vm, Privs: []string{"VM.Allocate"}, For: "create or rebuild " + name},
		{Path: "/storage/" + s.Storage, Privs: []string{"Datastore.AllocateSpace"}, For: "the disk of " + name},
		{Path: vm, Privs: []string{"VM.Config.Disk"}, For: "grow the disk of " + name},
		{Path: vm, Privs: []string{"VM.PowerMgmt"}, For: "stop " + name + " for a rebuild"},
		{Path: SDNPath(s.Bridge, s.VLAN), Privs: []string{"SDN.Use"}, For: "the NIC of " + name},
	}
	keys := []string{"tags"}
	for _, w := range s.wanted() {
		keys = append(keys, w.key)
	}
	if s.Kind == inventory.KindVM {
		t := s.Template
		out = append(out, Requirement{Path: vmPath(t.VMID), Privs: []string{"VM.Clone"}, For: fmt.Sprintf("clone %s from %d", name, t.VMID)},
			Requirement{Path: vmPath(t.VMID), Privs: []string{"VM.Audit"}, For: fmt.Sprintf("read the NICs of template %d", t.VMID)})
		if len(s.SSHKeys) > 0 {
			keys = append(keys, "sshkeys")
		}
		for _, k := range keys {
			out = append(out, vmKeyRequirements(vm, k, name)...)
		}
		return out
	}
	keys = append(keys, "rootfs", "unprivileged", "description")
	if s.Nesting {
		keys = append(keys, "features")
	}
	for _, k := range keys {
		out = append(out, ctKeyRequirements(vm, k, name)...)
	}
	if sid, _, ok := strings.Cut(s.OSTemplate, ":"); ok {
		out = append(out, Requirement{Path: "/storage/" + sid, Privs: []string{"Datastore.AllocateSpace", "Datastore.Audit"}, For: "read the template of " + name})
	}
	return out
}

// vmKeyRequirements is qemu-server's check_vm_modify_config_perm for the
// keys homelab sets.
func vmKeyRequirements(vm, key, name string) []Requirement {
	base := strings.TrimRightFunc(key, func(r rune) bool { return r >= '0' && r <= '9' })
	req := func(privs ...string) []Requirement {
		return []Requirement{{Path: vm, Privs: privs, For: key + " of " + name}}
	}
	switch {
	case slices.Contains([]string{"cores", "cpu", "cpulimit", "cpuunits", "sockets", "vcpus", "numa"}, key):
		return req("VM.Config.CPU")
	case key == "memory" || key == "balloon":
		return req("VM.Config.Memory")
	case base == "net":
		return req("VM.Config.Network")
	case base == "ipconfig" || slices.Contains([]string{"ciuser", "cipassword", "citype", "ciupgrade", "cicustom", "sshkeys", "nameserver", "searchdomain"}, key):
		return req("VM.Config.Cloudinit", "VM.Config.Network")
	case base == "scsi" || base == "virtio" || base == "sata" || base == "ide" || key == "boot":
		return req("VM.Config.Disk")
	case key == "startup":
		return append(req("VM.Config.Options"), Requirement{Path: "/", Privs: []string{"Sys.Modify"}, For: "startup of " + name})
	}
	return req("VM.Config.Options")
}

// ctKeyRequirements is pve-container's check_ct_modify_config_perm for
// the keys homelab sets.
func ctKeyRequirements(vm, key, name string) []Requirement {
	req := func(privs ...string) []Requirement {
		return []Requirement{{Path: vm, Privs: privs, For: key + " of " + name}}
	}
	switch key {
	case "cores", "cpulimit", "cpuunits":
		return req("VM.Config.CPU")
	case "memory", "swap":
		return req("VM.Config.Memory")
	case "rootfs":
		return req("VM.Config.Disk")
	case "net0", "hostname", "nameserver", "searchdomain":
		return req("VM.Config.Network")
	case "features":
		// nesting is the one feature a token may set; it needs VM.Allocate
		return req("VM.Allocate")
	case "startup":
		return append(req("VM.Config.Options"), Requirement{Path: "/", Privs: []string{"Sys.Modify"}, For: "startup of " + name})
	}
	return req("VM.Config.Options")
}

// Preflight reads the token's effective privileges (GET
// /access/permissions) and the NICs of the templates the works clone,
// and returns a *MissingPrivilegesError naming every requirement of works
// and extra the token does not meet. It only reads.
func (c *Client) Preflight(ctx context.Context, works []step.Work, extra []Requirement) error {
	reqs := slices.Clone(extra)
	templates := map[string]*inventory.VMTemplate{}
	for _, w := range works {
		if pw, ok := w.(PrivilegedWork); ok {
			reqs = append(reqs, pw.Privileges()...)
		}
		if tw, ok := w.(templateWork); ok {
			if t := tw.clonesFrom(); t != nil {
				templates[fmt.Sprintf("%s/%d", t.Node, t.VMID)] = t
			}
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	perms, err := c.api.Permissions(ctx, nil)
	if perms == nil {
		perms = pve.Permissions{}
	}
	if err != nil {
		return classify(fmt.Errorf("read the API token's privileges (GET /access/permissions): %w", err))
	}
	for _, key := range slices.Sorted(maps.Keys(templates)) {
		t := templates[key]
		if err := c.exactPermissions(ctx, perms, vmPath(t.VMID)); err != nil {
			return err
		}
		if !Granted(perms, vmPath(t.VMID), "VM.Audit") {
			continue // reported as missing; its NICs stay unknown
		}
		cfg, ok, err := c.config(ctx, t.Node, inventory.KindVM, t.VMID)
		if err != nil {
			return fmt.Errorf("read the NICs of template %s (%d on %s): %w", t.Name, t.VMID, t.Node, err)
		}
		if !ok {
			continue // the clone step reports a missing template
		}
		for _, k := range slices.Sorted(maps.Keys(cfg)) {
			if !strings.HasPrefix(k, "net") {
				continue
			}
			bridge, vlan := NICBridge(str(cfg[k]))
			if bridge != "" {
				reqs = append(reqs, Requirement{Path: SDNPath(bridge, vlan), Privs: []string{"SDN.Use"},
					For: fmt.Sprintf("%s of template %d, which its clones keep", k, t.VMID)})
			}
		}
	}
	// The full answer omits a path where the token holds nothing (an
	// ACL entry with NoAccess, or one that grants nothing), which would
	// otherwise seem to inherit from above: ask PVE for each path the
	// answer does not list.
	for _, path := range requiredPaths(reqs) {
		if err := c.exactPermissions(ctx, perms, path); err != nil {
			return err
		}
	}
	if missing := Missing(perms, reqs); len(missing) > 0 {
		return &MissingPrivilegesError{Missing: missing}
	}
	return nil
}

// exactPermissions adds PVE's answer for path to perms unless it is there.
func (c *Client) exactPermissions(ctx context.Context, perms pve.Permissions, path string) error {
	if _, ok := perms[path]; ok {
		return nil
	}
	one, err := c.api.Permissions(ctx, &pve.PermissionsOptions{Path: path})
	if err != nil {
		return classify(fmt.Errorf("read the API token's privileges on %s (GET /access/permissions): %w", path, err))
	}
	perms[path] = one[path]
	if perms[path] == nil {
		perms[path] = pve.Permission{}
	}
	return nil
}

func requiredPaths(reqs []Requirement) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, "/"+strings.Trim(r.Path, "/"))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// NICBridge reads bridge= and tag= (0: untagged) from a NIC's property
// string as PVE stores it.
func NICBridge(nic string) (string, int) {
	var bridge string
	var vlan int
	for _, p := range strings.Split(nic, ",") {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "bridge":
			bridge = v
		case "tag":
			vlan, _ = strconv.Atoi(v)
		}
	}
	return bridge, vlan
}

// Missing returns the requirements perms (an /access/permissions answer)
// does not meet, merged per path and privileges, sorted by path.
func Missing(perms pve.Permissions, reqs []Requirement) []Requirement {
	type entry struct {
		req  Requirement
		fors []string
	}
	merged := map[string]*entry{}
	for _, r := range reqs {
		if slices.ContainsFunc(r.Privs, func(p string) bool { return Granted(perms, r.Path, p) }) {
			continue
		}
		key := r.Path + " " + strings.Join(r.Privs, "|")
		e, ok := merged[key]
		if !ok {
			e = &entry{req: Requirement{Path: r.Path, Privs: r.Privs}}
			merged[key] = e
		}
		if !slices.Contains(e.fors, r.For) {
			e.fors = append(e.fors, r.For)
		}
	}
	out := make([]Requirement, 0, len(merged))
	for _, key := range slices.Sorted(maps.Keys(merged)) {
		e := merged[key]
		e.req.For = strings.Join(e.fors[:min(len(e.fors), 3)], ", ")
		if n := len(e.fors) - 3; n > 0 {
			e.req.For += fmt.Sprintf(" and %d more", n)
		}
		out = append(out, e.req)
	}
	return out
}

// Granted reports whether perms, an /access/permissions answer (path ->
// privilege -> propagates), grants priv on path. The answer lists the
// default paths and every path an ACL names; a path it does not list
// holds what its nearest listed ancestor propagates. An ancestor that
// lists only privileges that do not propagate (an ACL entry with
// propagate=0) leaves its descendants to the entries above it, as PVE's
// roles() does.
func Granted(perms pve.Permissions, path, priv string) bool {
	path = "/" + strings.Trim(path, "/")
	if p, ok := perms[path]; ok {
		_, has := p[priv]
		return has
	}
	for anc := parentACLPath(path); ; anc = parentACLPath(anc) {
		if p, ok := perms[anc]; ok {
			propagating := false
			for _, prop := range p {
				propagating = propagating || bool(prop)
			}
			if propagating {
				return bool(p[priv])
			}
		}
		if anc == "/" {
			return false
		}
	}
}

func parentACLPath(p string) string {
	i := strings.LastIndex(p, "/")
	if i <= 0 {
		return "/"
	}
	return p[:i]
}
