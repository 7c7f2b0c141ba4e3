package pve

import (
	"fmt"
	"regexp"
)

// BuiltinSchema is the simulator's own knowledge of the methods it
// implements and their parameters, written from PVE 9.1's documentation.
// It is narrower than PVE's schema (fewer rarely used options) but checks
// the same way; tests compare it with PVE's.
func BuiltinSchema() *Schema {
	s := &Schema{name: "built-in", methods: map[string]*methodSchema{}}
	add := func(method, path string, props map[string]*prop) {
		ms := &methodSchema{props: map[string]*prop{}}
		for _, seg := range splitPath(path) {
			if name, ok := pathVar(seg); ok {
				ms.props[name] = pathParam(name)
			}
		}
		for k, v := range props {
			ms.props[k] = v
		}
		s.methods[method+" "+path] = ms
	}
	none := map[string]*prop{}
	add("GET", "/version", none)
	add("GET", "/cluster/status", none)
	add("GET", "/cluster/resources", ps{"type": str().enumOf("vm", "storage", "node", "sdn").opt()})
	add("GET", "/cluster/nextid", ps{"vmid": vmidProp().opt()})
	add("GET", "/nodes", none)
	add("GET", "/nodes/{node}/status", none)
	add("GET", "/nodes/{node}/storage", ps{
		"content": str().named("pve-storage-content-list").opt(), "enabled": boolean().opt(),
		"format": boolean().opt(), "storage": str().named("pve-storage-id").opt(), "target": str().named("pve-node").opt(),
	})
	add("GET", "/nodes/{node}/storage/{storage}/status", none)
	add("GET", "/nodes/{node}/storage/{storage}/content", ps{
		"content": str().named("pve-storage-content").opt(), "vmid": vmidProp().opt(),
	})
	add("GET", "/access/permissions", ps{"path": str().opt(), "userid": str().opt()})

	add("GET", "/nodes/{node}/qemu", ps{"full": boolean().opt()})
	add("POST", "/nodes/{node}/qemu", merge(vmConfigParams(), ps{
		"start": boolean().opt(), "pool": str().named("pve-poolid").opt(), "storage": str().named("pve-storage-id").opt(),
		"unique": boolean().opt(), "archive": str().maxLen(255).opt(), "force": boolean().opt(),
	}))
	add("GET", "/nodes/{node}/qemu/{vmid}/status/current", none)
	add("GET", "/nodes/{node}/qemu/{vmid}/config", ps{"current": boolean().opt(), "snapshot": str().named("pve-configid").maxLen(40).opt()})
	edit := ps{"delete": str().named("pve-configid-list").opt(), "digest": str().maxLen(40).opt(), "skiplock": boolean().opt(), "revert": str().named("pve-configid-list").opt()}
	add("POST", "/nodes/{node}/qemu/{vmid}/config", merge(vmConfigParams(), edit, ps{"background_delay": integer().rng(1, 30).opt()}))
	add("PUT", "/nodes/{node}/qemu/{vmid}/config", merge(vmConfigParams(), edit))
	add("POST", "/nodes/{node}/qemu/{vmid}/clone", ps{
		"newid": vmidProp(), "name": str().named("dns-name").opt(), "description": str().opt(),
		"full": boolean().opt(), "target": str().named("pve-node").opt(), "storage": str().named("pve-storage-id").opt(),
		"format": str().enumOf("raw", "qcow2", "vmdk").opt(), "pool": str().named("pve-poolid").opt(),
		"snapname": str().named("pve-configid").maxLen(40).opt(), "bwlimit": integer().minimum(0).opt(),
	})
	add("PUT", "/nodes/{node}/qemu/{vmid}/resize", ps{
		"disk": str().enumOf(resizeDisks()...), "size": str().match(`\+?\d+(\.\d+)?[KMGT]?`),
		"digest": str().maxLen(40).opt(), "skiplock": boolean().opt(),
	})
	add("POST", "/nodes/{node}/qemu/{vmid}/status/start", ps{"skiplock": boolean().opt(), "timeout": integer().minimum(0).opt()})
	add("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown", ps{
		"forceStop": boolean().opt(), "keepActive": boolean().opt(), "skiplock": boolean().opt(), "timeout": integer().minimum(0).opt(),
	})
	add("POST", "/nodes/{node}/qemu/{vmid}/status/stop", ps{
		"keepActive": boolean().opt(), "skiplock": boolean().opt(), "timeout": integer().minimum(0).opt(), "overrule-shutdown": boolean().opt(),
	})
	add("POST", "/nodes/{node}/qemu/{vmid}/status/reboot", ps{"timeout": integer().minimum(0).opt()})
	add("DELETE", "/nodes/{node}/qemu/{vmid}", ps{
		"purge": boolean().opt(), "destroy-unreferenced-disks": boolean().opt(), "skiplock": boolean().opt(),
	})
	add("POST", "/nodes/{node}/qemu/{vmid}/template", ps{"disk": str().opt()})
	add("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces", none)
	add("GET", "/nodes/{node}/qemu/{vmid}/agent/get-osinfo", none)
	add("GET", "/nodes/{node}/qemu/{vmid}/agent/file-read", ps{
		"file": str(), "count": integer().minimum(1).opt(), "decode": boolean().opt(),
	})
	add("GET", "/nodes/{node}/qemu/{vmid}/cloudinit", none)
	add("PUT", "/nodes/{node}/qemu/{vmid}/cloudinit", none)
	add("GET", "/nodes/{node}/qemu/{vmid}/cloudinit/dump", ps{"type": str().enumOf("user", "network", "meta")})

	add("GET", "/nodes/{node}/lxc", none)
	add("POST", "/nodes/{node}/lxc", merge(ctConfigParams(), ps{
		"ostemplate": str().maxLen(255), "password": str().opt(), "ssh-public-keys": str().opt(),
		"start": boolean().opt(), "storage": str().named("pve-storage-id").opt(), "pool": str().named("pve-poolid").opt(),
		"unique": boolean().opt(), "restore": boolean().opt(), "force": boolean().opt(),
		"ignore-unpack-errors": boolean().opt(), "bwlimit": number().minimum(0).opt(),
	}))
	add("GET", "/nodes/{node}/lxc/{vmid}/status/current", none)
	add("GET", "/nodes/{node}/lxc/{vmid}/config", ps{"current": boolean().opt(), "snapshot": str().named("pve-configid").maxLen(40).opt()})
	add("PUT", "/nodes/{node}/lxc/{vmid}/config", merge(ctConfigParams(), ps{
		"delete": str().named("pve-configid-list").opt(), "digest": str().maxLen(40).opt(), "revert": str().named("pve-configid-list").opt(),
	}))
	add("POST", "/nodes/{node}/lxc/{vmid}/status/start", ps{"skiplock": boolean().opt(), "debug": boolean().opt()})
	add("POST", "/nodes/{node}/lxc/{vmid}/status/shutdown", ps{"forceStop": boolean().opt(), "timeout": integer().minimum(0).opt()})
	add("POST", "/nodes/{node}/lxc/{vmid}/status/stop", ps{"skiplock": boolean().opt(), "overrule-shutdown": boolean().opt()})
	add("DELETE", "/nodes/{node}/lxc/{vmid}", ps{
		"force": boolean().opt(), "purge": boolean().opt(), "destroy-unreferenced-disks": boolean().opt(),
	})
	add("GET", "/nodes/{node}/lxc/{vmid}/interfaces", none)

	add("GET", "/nodes/{node}/tasks/{upid}/status", none)
	add("GET", "/nodes/{node}/tasks/{upid}/log", ps{"start": integer().minimum(0).opt(), "limit": integer().minimum(0).opt(), "download": boolean().opt()})
	return s
}

type ps = map[string]*prop

func merge(maps ...ps) ps {
	out := ps{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func pathParam(name string) *prop {
	switch name {
	case "node":
		return str().named("pve-node")
	case "vmid":
		return vmidProp()
	case "storage":
		return str().named("pve-storage-id")
	}
	return str()
}

func str() *prop     { return &prop{typ: "string", minLength: -1, maxLength: -1} }
func integer() *prop { return &prop{typ: "integer", minLength: -1, maxLength: -1} }
func number() *prop  { return &prop{typ: "number", minLength: -1, maxLength: -1} }
func boolean() *prop { return &prop{typ: "boolean", minLength: -1, maxLength: -1} }

func vmidProp() *prop { return integer().named("pve-vmid").rng(100, 999999999) }

// alias is a property-string key that names the value of another key,
// like virtio=<MAC> for model=virtio,macaddr=<MAC>.
func alias(target, keyAlias string) *prop {
	return &prop{alias: target, keyAlias: keyAlias, minLength: -1, maxLength: -1}
}

func (p *prop) opt() *prop               { p.optional = true; return p }
func (p *prop) named(name string) *prop  { p.format = name; return p }
func (p *prop) props(sub ps) *prop       { p.sub = sub; return p }
func (p *prop) enumOf(v ...string) *prop { p.enum = v; return p }
func (p *prop) maxLen(n int) *prop       { p.maxLength = n; return p }
func (p *prop) defKey() *prop            { p.defaultKey = true; return p }
func (p *prop) minimum(v float64) *prop  { p.min = &v; return p }
func (p *prop) rng(lo, hi float64) *prop { p.min, p.max = &lo, &hi; return p }
func (p *prop) match(pattern string) *prop {
	p.pattern = regexp.MustCompile("^(?:" + pattern + ")$")
	return p
}

var netModels = []string{
	"e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b",
	"i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3",
}

func vmNetFormat() ps {
	f := ps{
		"model":     str().enumOf(netModels...).defKey(),
		"macaddr":   str().named("mac-addr").opt(),
		"bridge":    str().named("pve-bridge-id").opt(),
		"tag":       integer().rng(1, 4094).opt(),
		"firewall":  boolean().opt(),
		"link_down": boolean().opt(),
		"mtu":       integer().rng(1, 65520).opt(),
		"queues":    integer().rng(0, 64).opt(),
		"rate":      number().minimum(0).opt(),
		"trunks":    str().match(`\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*`).opt(),
	}
	for _, m := range netModels {
		f[m] = alias("macaddr", "model")
	}
	return f
}

// diskFormat is the drive property string of one bus: iothread on
// scsi and virtio, ssd emulation on scsi, ide and sata.
func diskFormat(bus string) ps {
	f := ps{
		"file":        str().named("pve-volume-id-or-qm-path").defKey(),
		"size":        str().named("disk-size").opt(),
		"media":       str().enumOf("cdrom", "disk").opt(),
		"format":      str().enumOf("raw", "qcow", "qed", "qcow2", "vmdk", "cloop").opt(),
		"cache":       str().enumOf("none", "writethrough", "writeback", "unsafe", "directsync").opt(),
		"discard":     str().enumOf("ignore", "on").opt(),
		"aio":         str().enumOf("native", "threads", "io_uring").opt(),
		"backup":      boolean().opt(),
		"replicate":   boolean().opt(),
		"import-from": str().named("pve-volume-id-or-absolute-path").opt(),
		"serial":      str().opt(),
	}
	if bus == "scsi" || bus == "virtio" {
		f["iothread"] = boolean().opt()
	}
	if bus != "virtio" {
		f["ssd"] = boolean().opt()
	}
	return f
}

func resizeDisks() []string {
	var out []string
	for _, d := range []struct {
		bus string
		n   int
	}{{"ide", 4}, {"scsi", 31}, {"virtio", 16}, {"sata", 6}} {
		for i := range d.n {
			out = append(out, fmt.Sprintf("%s%d", d.bus, i))
		}
	}
	return append(out, "efidisk0", "tpmstate0")
}

func vmConfigParams() ps {
	return ps{
		"vmid":         vmidProp(),
		"name":         str().named("dns-name").opt(),
		"description":  str().maxLen(8192).opt(),
		"tags":         str().named("pve-tag-list").opt(),
		"cores":        integer().minimum(1).opt(),
		"sockets":      integer().minimum(1).opt(),
		"vcpus":        integer().minimum(1).opt(),
		"cpu":          str().opt(),
		"cpulimit":     number().rng(0, 128).opt(),
		"cpuunits":     integer().rng(1, 262144).opt(),
		"memory":       str().props(ps{"current": integer().minimum(16).defKey()}).opt(),
		"balloon":      integer().minimum(0).opt(),
		"numa":         boolean().opt(),
		"onboot":       boolean().opt(),
		"protection":   boolean().opt(),
		"template":     boolean().opt(),
		"agent":        str().props(ps{"enabled": boolean().defKey(), "fstrim_cloned_disks": boolean().opt(), "freeze-fs": boolean().opt(), "type": str().enumOf("virtio", "isa").opt()}).opt(),
		"boot":         str().opt(),
		"bootdisk":     str().opt(),
		"ostype":       str().enumOf("other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11", "l24", "l26", "solaris").opt(),
		"scsihw":       str().enumOf("lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi").opt(),
		"bios":         str().enumOf("seabios", "ovmf").opt(),
		"machine":      str().opt(),
		"vga":          str().opt(),
		"serial[n]":    str().match(`(/dev/.+|socket)`).opt(),
		"net[n]":       str().props(vmNetFormat()).opt(),
		"ipconfig[n]":  str().named("pve-qm-ipconfig").opt(),
		"ciuser":       str().opt(),
		"cipassword":   str().opt(),
		"citype":       str().enumOf("configdrive2", "nocloud", "opennebula").opt(),
		"ciupgrade":    boolean().opt(),
		"cicustom":     str().opt(),
		"sshkeys":      str().named("urlencoded").opt(),
		"nameserver":   str().opt(),
		"searchdomain": str().opt(),
		"scsi[n]":      str().props(diskFormat("scsi")).opt(),
		"virtio[n]":    str().props(diskFormat("virtio")).opt(),
		"sata[n]":      str().props(diskFormat("sata")).opt(),
		"ide[n]":       str().props(diskFormat("ide")).opt(),
		"efidisk0":     str().opt(),
		"unused[n]":    str().props(ps{"file": str().named("pve-volume-id").defKey()}).opt(),
		"hotplug":      str().opt(),
		"kvm":          boolean().opt(),
		"acpi":         boolean().opt(),
		"tablet":       boolean().opt(),
		"localtime":    boolean().opt(),
		"startup":      str().named("pve-startup-order").opt(),
		"hookscript":   str().named("pve-volume-id").opt(),
		"smbios1":      str().maxLen(512).opt(),
		"vmgenid":      str().opt(),
		"lock":         str().enumOf("backup", "clone", "create", "migrate", "rollback", "snapshot", "snapshot-delete", "suspending", "suspended").opt(),
	}
}

func ctNetFormat() ps {
	return ps{
		"name":      str().match(`[-_.\w\d]+`),
		"bridge":    str().match(`[-_.\w\d]+`).opt(),
		"hwaddr":    str().named("mac-addr").opt(),
		"ip":        str().named("pve-ipv4-config").opt(),
		"gw":        str().named("ipv4").opt(),
		"ip6":       str().named("pve-ipv6-config").opt(),
		"gw6":       str().named("ipv6").opt(),
		"tag":       integer().rng(1, 4094).opt(),
		"firewall":  boolean().opt(),
		"link_down": boolean().opt(),
		"mtu":       integer().rng(64, 65535).opt(),
		"rate":      number().opt(),
		"trunks":    str().match(`\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*`).opt(),
		"type":      str().enumOf("veth").opt(),
	}
}

func mountFormat() ps {
	return ps{
		"volume":       str().named("pve-lxc-mp-string").defKey(),
		"size":         str().named("disk-size").opt(),
		"acl":          boolean().opt(),
		"quota":        boolean().opt(),
		"ro":           boolean().opt(),
		"replicate":    boolean().opt(),
		"shared":       boolean().opt(),
		"mountoptions": str().opt(),
	}
}

func ctConfigParams() ps {
	mp := mountFormat()
	mp["mp"] = str()
	mp["backup"] = boolean().opt()
	return ps{
		"vmid":         vmidProp(),
		"hostname":     str().named("dns-name").maxLen(255).opt(),
		"description":  str().maxLen(8192).opt(),
		"tags":         str().named("pve-tag-list").opt(),
		"arch":         str().enumOf("amd64", "i386", "arm64", "armhf", "riscv32", "riscv64").opt(),
		"ostype":       str().enumOf("debian", "devuan", "ubuntu", "centos", "fedora", "opensuse", "archlinux", "alpine", "gentoo", "nixos", "unmanaged").opt(),
		"cores":        integer().rng(1, 8192).opt(),
		"cpulimit":     number().rng(0, 8192).opt(),
		"cpuunits":     integer().rng(0, 500000).opt(),
		"memory":       integer().minimum(16).opt(),
		"swap":         integer().minimum(0).opt(),
		"net[n]":       str().props(ctNetFormat()).opt(),
		"rootfs":       str().props(mountFormat()).opt(),
		"mp[n]":        str().props(mp).opt(),
		"unused[n]":    str().props(ps{"volume": str().named("pve-volume-id").defKey()}).opt(),
		"features":     str().props(ps{"nesting": boolean().opt(), "keyctl": boolean().opt(), "fuse": boolean().opt(), "mknod": boolean().opt(), "force_rw_sys": boolean().opt(), "mount": str().opt()}).opt(),
		"unprivileged": boolean().opt(),
		"onboot":       boolean().opt(),
		"protection":   boolean().opt(),
		"template":     boolean().opt(),
		"console":      boolean().opt(),
		"cmode":        str().enumOf("shell", "console", "tty").opt(),
		"tty":          integer().rng(0, 6).opt(),
		"nameserver":   str().opt(),
		"searchdomain": str().opt(),
		"startup":      str().named("pve-startup-order").opt(),
		"timezone":     str().opt(),
		"hookscript":   str().named("pve-volume-id").opt(),
		"debug":        boolean().opt(),
		"lock":         str().enumOf("backup", "create", "destroyed", "disk", "fstrim", "migrate", "mounted", "rollback", "snapshot", "snapshot-delete").opt(),
	}
}
