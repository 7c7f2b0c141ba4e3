package pve

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file is PVE's permission model as far as the simulator needs it
// (pve-access-control PVE/AccessControl.pm roles(), PVE/RPCEnvironment.pm
// permissions() and get_effective_permissions(); the checks of
// qemu-server PVE/API2/Qemu.pm and pve-container PVE/API2/LXC.pm).

// effective is what a token holds on path: privilege -> propagate flag.
// Walking from / down to path, an entry that applies (on path itself, or
// propagated from above) replaces what the entries above granted.
func (t *tokenState) effective(path string) map[string]bool {
	out := map[string]bool{}
	if t.acl == nil {
		for _, p := range allPrivileges {
			out[p] = true
		}
		return out
	}
	path = cleanACLPath(path)
	for _, p := range aclPrefixes(path) {
		e, ok := t.acl[p]
		if !ok || (p != path && !e.propagate) {
			continue
		}
		out = map[string]bool{}
		for priv := range e.privs {
			out[priv] = e.propagate
		}
	}
	return out
}

// aclPrefixes lists /, /a, /a/b for /a/b.
func aclPrefixes(path string) []string {
	out := []string{"/"}
	if path == "/" {
		return out
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := range parts {
		out = append(out, "/"+strings.Join(parts[:i+1], "/"))
	}
	return out
}

// allowed reports whether the token holds priv on path.
func (t *tokenState) allowed(path, priv string) bool {
	_, ok := t.effective(path)[priv]
	return ok
}

// permCheck requires one of privs on an ACL path. bare is PVE's
// raise_perm_exc() without arguments: a 403 that names nothing.
type permCheck struct {
	path  string
	privs []string
	bare  bool
}

func need(path string, privs ...string) permCheck { return permCheck{path: path, privs: privs} }

// authorize runs a route's checks; the first that fails is PVE's 403.
func authorize(tok *tokenState, checks []permCheck) *apiError {
	for _, pc := range checks {
		if slices.ContainsFunc(pc.privs, func(p string) bool { return tok.allowed(pc.path, p) }) {
			continue
		}
		if pc.bare {
			return &apiError{status: http.StatusForbidden, msg: "Permission check failed"}
		}
		return &apiError{status: http.StatusForbidden, msg: fmt.Sprintf("Permission check failed (%s, %s)", pc.path, strings.Join(pc.privs, "|"))}
	}
	return nil
}

// handlePermissions is GET /access/permissions: the effective privileges
// of the caller (or, with userid, of another token: that needs Sys.Audit
// on /access) on every default path and every path an ACL names, or on
// path alone. Each maps privilege -> 1 when it propagates, 0 when not.
func (s *Server) handlePermissions(c *call) (any, *apiError) {
	target := c.tok
	if uid := c.params["userid"]; uid != "" && uid != c.tok.id {
		if err := authorize(c.tok, []permCheck{need("/access", "Sys.Audit")}); err != nil {
			return nil, err
		}
		target = s.tokens[uid]
		if uid == "root@pam" {
			target = &tokenState{id: uid}
		}
	}
	flags := func(path string) map[string]int {
		m := map[string]int{}
		if target == nil {
			return m
		}
		for p, prop := range target.effective(path) {
			m[p] = 0
			if prop {
				m[p] = 1
			}
		}
		return m
	}
	if path := c.params["path"]; path != "" {
		return map[string]map[string]int{path: flags(path)}, nil
	}
	paths := map[string]bool{"/": true, "/access": true, "/access/groups": true, "/nodes": true,
		"/pool": true, "/sdn": true, "/storage": true, "/vms": true}
	for _, tok := range s.tokens {
		for p := range tok.acl {
			paths[p] = true
		}
	}
	out := map[string]map[string]int{}
	for p := range paths {
		if m := flags(p); len(m) > 0 {
			out[p] = m
		}
	}
	return out, nil
}

var allPrivileges = []string{
	"Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit",
	"Pool.Allocate", "Pool.Audit", "SDN.Allocate", "SDN.Audit", "SDN.Use", "Sys.Audit", "Sys.Console",
	"Sys.Modify", "Sys.PowerMgmt", "VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM",
	"VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory",
	"VM.Config.Network", "VM.Config.Options", "VM.Console", "VM.GuestAgent.Audit", "VM.GuestAgent.FileRead",
	"VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.PowerMgmt", "VM.Snapshot",
}

// sdnPath is the ACL path of a bridge (and VLAN) in the local zone
// (pve-guest-common check_vnet_access).
func sdnPath(bridge string, tag string) string {
	p := "/sdn/zones/localnetwork/" + bridge
	if tag != "" {
		p += "/" + tag
	}
	return p
}

// bridgeChecks is check_vnet_access for one NIC: SDN.Use on the VLAN when
// it is tagged (a grant on the bridge propagates to it), on each trunk
// VLAN, and on the bridge when neither.
func bridgeChecks(nic string) []permCheck {
	bridge := propGet(nic, "bridge")
	if bridge == "" {
		return nil
	}
	tag, trunks := propGet(nic, "tag"), propGet(nic, "trunks")
	var out []permCheck
	if tag != "" {
		out = append(out, need(sdnPath(bridge, tag), "SDN.Use"))
	}
	for _, t := range trunkTags(trunks) {
		out = append(out, need(sdnPath(bridge, t), "SDN.Use"))
	}
	if tag == "" && trunks == "" {
		out = append(out, need(sdnPath(bridge, ""), "SDN.Use"))
	}
	return out
}

// trunkTags expands "10;20-22" to its VLANs.
func trunkTags(trunks string) []string {
	var out []string
	for _, part := range strings.Split(trunks, ";") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 4094 {
				continue
			}
		}
		for v := a; v <= b; v++ {
			out = append(out, strconv.Itoa(v))
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(out)))
}

var (
	reNICKey   = regexp.MustCompile(`^net\d+$`)
	reNewDisk  = regexp.MustCompile(`^(([^/:\s]+):)?(\d+(\.\d+)?)$`)
	qemuCPU    = []string{"cores", "cpu", "runningcpu", "cpulimit", "cpuunits", "numa", "smp", "sockets", "vcpus"}
	qemuMemory = []string{"memory", "balloon", "shares", "allow-ksm"}
	qemuHW     = []string{"acpi", "hotplug", "kvm", "machine", "runningmachine", "scsihw", "smbios1", "tablet", "vga", "watchdog", "audio0", "rng0"}
	qemuCI     = []string{"cicustom", "cipassword", "citype", "ciuser", "ciupgrade", "nameserver", "searchdomain", "sshkeys"}
	qemuDisk   = []string{"boot", "bootdisk", "vmstatestorage"}
	noCheck    = []string{"digest", "skiplock", "background_delay", "node", "vmid", "delete", "revert", "force"}
)

// vmKeyChecks is check_vm_modify_config_perm for one VM configuration
// key (drives and devices simplified to their usual privilege).
func vmKeyChecks(vmid, key string) []permCheck {
	vm := "/vms/" + vmid
	base := strings.TrimRightFunc(key, func(r rune) bool { return r >= '0' && r <= '9' })
	switch {
	case slices.Contains(noCheck, key):
		return nil
	case slices.Contains(qemuCPU, key) || base == "numa":
		return []permCheck{need(vm, "VM.Config.CPU")}
	case slices.Contains(qemuMemory, key):
		return []permCheck{need(vm, "VM.Config.Memory")}
	case slices.Contains(qemuHW, key), base == "serial", base == "usb", base == "hostpci", base == "parallel":
		return []permCheck{need(vm, "VM.Config.HWType")}
	case slices.Contains(qemuDisk, key), reDiskKey.MatchString(key), base == "efidisk", base == "tpmstate":
		return []permCheck{need(vm, "VM.Config.Disk")}
	case base == "net" || key == "running-nets-host-mtu":
		return []permCheck{need(vm, "VM.Config.Network")}
	case slices.Contains(qemuCI, key) || base == "ipconfig":
		// any of the two, as Qemu.pm asks
		return []permCheck{need(vm, "VM.Config.Cloudinit", "VM.Config.Network")}
	case key == "startup":
		// "special case for startup since it changes host behaviour"
		return []permCheck{need(vm, "VM.Config.Options"), need("/", "Sys.Modify")}
	}
	return []permCheck{need(vm, "VM.Config.Options")}
}

// ctKeyChecks is check_ct_modify_config_perm for one container key.
func ctKeyChecks(vmid, key, value string, deleting bool) []permCheck {
	vm := "/vms/" + vmid
	base := strings.TrimRightFunc(key, func(r rune) bool { return r >= '0' && r <= '9' })
	switch {
	case slices.Contains(noCheck, key):
		return nil
	case key == "cores" || key == "cpuunits" || key == "cpulimit":
		return []permCheck{need(vm, "VM.Config.CPU")}
	case key == "rootfs" || base == "mp":
		out := []permCheck{need(vm, "VM.Config.Disk")}
		if m := reNewDisk.FindStringSubmatch(propGet(value, "")); !deleting && m != nil && m[2] != "" {
			out = append(out, need("/storage/"+m[2], "Datastore.AllocateSpace"))
		}
		return out
	case key == "memory" || key == "swap":
		return []permCheck{need(vm, "VM.Config.Memory")}
	case base == "net", key == "nameserver", key == "searchdomain", key == "hostname":
		return []permCheck{need(vm, "VM.Config.Network")}
	case key == "features":
		// only nesting may change without root@pam; it needs VM.Allocate
		return []permCheck{need(vm, "VM.Allocate")}
	}
	return []permCheck{need(vm, "VM.Config.Options")}
}

// paramKeys are a call's parameter names, sorted (PVE walks a hash; the
// simulator is deterministic).
func paramKeys(params map[string]string) []string {
	return slices.Sorted(maps.Keys(params))
}

// qemuConfigPerms is update_vm_api's checks: each deleted key, each set
// key, then SDN.Use for every NIC set.
func qemuConfigPerms(c *call) []permCheck {
	vmid := c.vars["vmid"]
	var out []permCheck
	for _, k := range splitList(c.params["delete"]) {
		out = append(out, vmKeyChecks(vmid, k)...)
	}
	for _, k := range paramKeys(c.params) {
		out = append(out, vmKeyChecks(vmid, k)...)
	}
	for _, k := range paramKeys(c.params) {
		if reNICKey.MatchString(k) {
			out = append(out, bridgeChecks(c.params[k])...)
		}
	}
	return out
}

// qemuCreatePerms is create_vm's checks: VM.PowerMgmt when it starts the
// VM, VM.Allocate (a bare 403), storage for new disks, the keys, SDN.Use.
func qemuCreatePerms(c *call) []permCheck {
	vmid := c.params["vmid"]
	var out []permCheck
	if c.params["start"] == "1" {
		out = append(out, need("/vms/"+vmid, "VM.PowerMgmt"))
	}
	out = append(out, permCheck{path: "/vms/" + vmid, privs: []string{"VM.Allocate"}, bare: true})
	keys := paramKeys(c.params)
	for _, k := range keys {
		if !reDiskKey.MatchString(k) && !strings.HasPrefix(k, "efidisk") && !strings.HasPrefix(k, "tpmstate") {
			continue
		}
		if m := reNewDisk.FindStringSubmatch(propGet(c.params[k], "")); m != nil && propGet(c.params[k], "media") != "cdrom" {
			sid := m[2]
			if sid == "" {
				sid = c.params["storage"]
			}
			out = append(out, need("/storage/"+sid, "Datastore.AllocateSpace"))
		}
	}
	for _, k := range keys {
		switch k {
		case "vmid", "start", "storage", "pool", "unique", "archive", "force":
			continue
		}
		out = append(out, vmKeyChecks(vmid, k)...)
	}
	for _, k := range keys {
		if reNICKey.MatchString(k) {
			out = append(out, bridgeChecks(c.params[k])...)
		}
	}
	return out
}

// clonePerms is clone_vm's checks: VM.Clone on the source, VM.Allocate on
// the new ID, Datastore.AllocateSpace where each disk goes, and SDN.Use
// on the bridges of the source's NICs (the clone keeps them).
func clonePerms(c *call) []permCheck {
	out := []permCheck{need("/vms/"+c.vars["vmid"], "VM.Clone"), need("/vms/"+c.params["newid"], "VM.Allocate")}
	src := c.guest(c.vars["vmid"])
	if src == nil {
		return out
	}
	for _, v := range src.volumes() {
		if strings.Contains(v.name, "cloudinit") {
			continue
		}
		sid := v.storage
		if s := c.params["storage"]; s != "" {
			sid = s
		}
		out = append(out, need("/storage/"+sid, "Datastore.AllocateSpace"))
	}
	for _, k := range src.nics() {
		out = append(out, bridgeChecks(src.conf[k])...)
	}
	return out
}

// lxcCreatePerms is pve-container's create_vm: Sys.Modify on / for a
// privileged container, VM.Allocate (a bare 403), the keys, read access
// to the template's storage, AllocateSpace on the root disk's storage.
func lxcCreatePerms(c *call) []permCheck {
	vmid := c.params["vmid"]
	var out []permCheck
	if c.params["unprivileged"] == "0" {
		out = append(out, need("/", "Sys.Modify"))
	}
	out = append(out, permCheck{path: "/vms/" + vmid, privs: []string{"VM.Allocate"}, bare: true})
	keys := paramKeys(c.params)
	for _, k := range keys {
		if slices.Contains(ctCreateOnly, k) || k == "unprivileged" || k == "ha-managed" || k == "vmid" {
			continue
		}
		out = append(out, ctKeyChecks(vmid, k, c.params[k], false)...)
		if reNICKey.MatchString(k) {
			out = append(out, bridgeChecks(c.params[k])...)
		}
	}
	if sid, _, ok := strings.Cut(c.params["ostemplate"], ":"); ok {
		out = append(out, need("/storage/"+sid, "Datastore.AllocateSpace", "Datastore.Audit"))
	}
	if _, ok := c.params["rootfs"]; !ok {
		sid := c.params["storage"]
		if sid == "" {
			sid = "local"
		}
		out = append(out, need("/storage/"+sid, "Datastore.AllocateSpace"))
	}
	return out
}

// lxcConfigPerms is update_pct_config's checks: each set and deleted key;
// for NICs, SDN.Use on the bridge they leave and the one they join.
func lxcConfigPerms(c *call) []permCheck {
	vmid := c.vars["vmid"]
	old := c.guest(vmid)
	var out []permCheck
	for _, k := range paramKeys(c.params) {
		out = append(out, ctKeyChecks(vmid, k, c.params[k], false)...)
		if reNICKey.MatchString(k) {
			if old != nil && old.conf[k] != "" {
				out = append(out, bridgeChecks(old.conf[k])...)
			}
			out = append(out, bridgeChecks(c.params[k])...)
		}
	}
	for _, k := range splitList(c.params["delete"]) {
		out = append(out, ctKeyChecks(vmid, k, "", true)...)
	}
	return out
}

// resizePerms is resize_vm: VM.Config.Disk, then AllocateSpace on the
// disk's storage.
func resizePerms(c *call) []permCheck {
	out := []permCheck{need("/vms/"+c.vars["vmid"], "VM.Config.Disk")}
	if g := c.guest(c.vars["vmid"]); g != nil {
		for _, v := range g.volumes() {
			if v.key == c.params["disk"] {
				out = append(out, need("/storage/"+v.storage, "Datastore.AllocateSpace"))
			}
		}
	}
	return out
}

// guest is the guest a call names, read under the server's lock (route
// checks run in dispatch, which holds it); nil when there is none.
func (c *call) guest(vmid string) *guest {
	id, err := strconv.Atoi(vmid)
	if err != nil || c.st == nil {
		return nil
	}
	return c.st.guests[id]
}
