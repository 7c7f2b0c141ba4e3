package pve

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *Server) handleVersion(*call) (any, *apiError) {
	release := s.opts.Version
	if parts := strings.SplitN(release, ".", 3); len(parts) >= 2 {
		release = parts[0] + "." + parts[1]
	}
	return map[string]any{"release": release, "version": s.opts.Version, "repoid": "d6f1a4c2b8e07a35"}, nil
}

// handleClusterStatus answers with numbers where PVE has numbers:
// go-proxmox type-asserts them.
func (s *Server) handleClusterStatus(*call) (any, *apiError) {
	online := 0
	for _, n := range s.st.nodes {
		if n.online {
			online++
		}
	}
	out := []map[string]any{{
		"type": "cluster", "id": "cluster", "name": s.opts.ClusterName,
		"nodes": len(s.st.nodes), "quorate": b2i(online*2 > len(s.st.nodes)), "version": len(s.st.nodes) + 1,
	}}
	for i, n := range s.st.nodes {
		out = append(out, map[string]any{
			"type": "node", "id": "node/" + n.Name, "name": n.Name, "nodeid": n.id,
			"ip": n.IP, "local": b2i(i == 0), "online": b2i(n.online), "level": "",
		})
	}
	return out, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// resourceSnapshot is what /cluster/resources showed from a moment on.
type resourceSnapshot struct {
	at   time.Time
	rows []map[string]any
}

// recordResources remembers the guest rows as they are at at, for the
// lagging view of /cluster/resources.
func (s *Server) recordResources(at time.Time) {
	if s.opts.ResourceLag <= 0 {
		return
	}
	s.resources = append(s.resources, resourceSnapshot{at: at, rows: s.guestRows(at)})
	// Keep the newest snapshot old enough to be shown, and all newer ones.
	cut := s.clock.Now().Add(-s.opts.ResourceLag)
	keep := 0
	for i, snap := range s.resources {
		if !snap.at.After(cut) {
			keep = i
		}
	}
	s.resources = s.resources[keep:]
}

func (s *Server) guestRows(now time.Time) []map[string]any {
	ids := slices.Sorted(maps.Keys(s.st.guests))
	rows := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		g := s.st.guests[id]
		if n := s.st.node(g.node); n != nil && !n.online {
			rows = append(rows, offlineGuestRow(g))
			continue
		}
		row := map[string]any{
			"id": fmt.Sprintf("%s/%d", g.kind, g.vmid), "type": string(g.kind), "vmid": g.vmid,
			"name": g.name(), "node": g.node, "status": g.status(), "template": b2i(g.template()),
			"maxcpu": g.cpus(), "maxmem": g.memoryBytes(), "maxdisk": g.rootDiskSize(),
			"uptime": g.uptime(now), "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
		}
		addUsage(row, g)
		if tags := g.conf["tags"]; tags != "" {
			row["tags"] = tags
		}
		if g.lock != "" {
			row["lock"] = g.lock
		}
		rows = append(rows, row)
	}
	return rows
}

// offlineGuestRow is a guest of an offline node as /cluster/resources
// lists it: pmxcfs still has its config (vmid, node, type, tags, lock),
// but no status data comes from the node, so the status is "unknown" and
// the name and figures are missing (PVE::API2Tools::extract_vm_stats).
func offlineGuestRow(g *guest) map[string]any {
	row := map[string]any{"id": fmt.Sprintf("%s/%d", g.kind, g.vmid), "type": string(g.kind), "vmid": g.vmid, "node": g.node, "status": "unknown"}
	if tags := g.conf["tags"]; tags != "" {
		row["tags"] = tags
	}
	if g.lock != "" {
		row["lock"] = g.lock
	}
	return row
}

// addUsage fills cpu, mem and disk: a running guest uses a quarter of its
// memory and a little CPU.
func addUsage(row map[string]any, g *guest) {
	row["cpu"], row["mem"], row["disk"] = 0, 0, 0
	if g.running {
		row["cpu"] = 0.0123
		row["mem"] = g.memoryBytes() / 4
		if g.kind == KindCT {
			row["disk"] = g.rootDiskSize() / 5
		}
	}
}

// handleResources is GET /cluster/resources; guest rows lag behind by
// Options.ResourceLag.
func (s *Server) handleResources(c *call) (any, *apiError) {
	typ := c.params["type"]
	var rows []map[string]any
	if typ == "" || typ == "vm" {
		guests := s.guestRows(c.now)
		if s.opts.ResourceLag > 0 && len(s.resources) > 0 {
			cut := c.now.Add(-s.opts.ResourceLag)
			guests = s.resources[0].rows
			for _, snap := range s.resources {
				if !snap.at.After(cut) {
					guests = snap.rows
				}
			}
		}
		for _, r := range guests {
			// "Only list VMs where you have VM.Audit": no 403, fewer rows.
			if !c.tok.allowed(fmt.Sprintf("/vms/%v", r["vmid"]), "VM.Audit") {
				continue
			}
			rows = append(rows, maps.Clone(r))
		}
	}
	if typ == "" || typ == "node" {
		for _, n := range s.st.nodes {
			rows = append(rows, s.nodeRow(n, true))
		}
	}
	if typ == "" || typ == "storage" {
		for _, n := range s.st.nodes {
			for _, st := range s.st.nodeStorages(n.Name) {
				rows = append(rows, map[string]any{
					"id": "storage/" + n.Name + "/" + st.Name, "type": "storage", "storage": st.Name,
					"node": n.Name, "status": map[bool]string{true: "available", false: "unknown"}[n.online],
					"plugintype": st.Type, "content": st.Content, "shared": b2i(st.Shared),
					"disk": s.st.used(st), "maxdisk": st.Size,
				})
			}
		}
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	return rows, nil
}

// nodeRow is a node as /nodes (and /cluster/resources) lists it; an
// offline node has no usage figures.
func (s *Server) nodeRow(n *node, resource bool) map[string]any {
	row := map[string]any{"node": n.Name, "id": "node/" + n.Name, "type": "node", "level": "", "status": "offline"}
	if !resource {
		row["ssl_fingerprint"] = s.Fingerprint()
	}
	if !n.online {
		return row
	}
	row["status"] = "online"
	var mem uint64 = 2 * gib
	for _, g := range s.st.guests {
		if g.node == n.Name && g.running {
			mem += g.memoryBytes() / 4
		}
	}
	row["cpu"] = 0.0215
	row["maxcpu"] = n.CPUs
	row["mem"] = mem
	row["maxmem"] = n.Memory
	row["disk"] = 3 * gib
	row["maxdisk"] = 100 * gib
	row["uptime"] = uint64(s.clock.Now().Sub(s.st.boot) / time.Second)
	if resource {
		row["cgroup-mode"] = 2
	}
	return row
}

// handleNextID is GET /cluster/nextid: a JSON string, as real PVE sends.
func (s *Server) handleNextID(c *call) (any, *apiError) {
	if v, ok := c.params["vmid"]; ok {
		id, _ := strconv.Atoi(v)
		if _, taken := s.st.guests[id]; taken {
			return nil, paramError(map[string]string{"vmid": fmt.Sprintf("VM %d already exists", id)})
		}
		return v, nil
	}
	return strconv.Itoa(s.st.nextFreeID()), nil
}

func (s *Server) handleNodes(*call) (any, *apiError) {
	out := make([]map[string]any, 0, len(s.st.nodes))
	for _, n := range s.st.nodes {
		out = append(out, s.nodeRow(n, false))
	}
	return out, nil
}

func (s *Server) handleNodeStatus(c *call) (any, *apiError) {
	n := s.st.node(c.vars["node"])
	row := s.nodeRow(n, false)
	mem := row["mem"].(uint64)
	return map[string]any{
		"uptime":     row["uptime"],
		"cpu":        row["cpu"],
		"idle":       0,
		"wait":       0.0004,
		"loadavg":    []string{"0.12", "0.09", "0.05"},
		"kversion":   "Linux 6.14.11-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.11-4 (2025-10-10T08:04Z)",
		"pveversion": "pve-manager/" + s.opts.Version + "/d6f1a4c2b8e07a35",
		"cpuinfo": map[string]any{
			"model": "Intel(R) Core(TM) i5-8500T CPU @ 2.10GHz", "cores": n.CPUs, "cpus": n.CPUs,
			"sockets": 1, "mhz": "2100.000", "hvm": "1", "user_hz": 100, "flags": "fpu vme de pse tsc msr pae mce cx8 apic",
		},
		"memory":    map[string]any{"total": n.Memory, "used": mem, "free": n.Memory - mem},
		"swap":      map[string]any{"total": 8 * gib, "used": 0, "free": 8 * gib},
		"rootfs":    map[string]any{"total": 100 * gib, "used": 3 * gib, "avail": 97 * gib, "free": 97 * gib},
		"ksm":       map[string]any{"shared": 0},
		"boot-info": map[string]any{"mode": "efi", "secureboot": 0},
		"current-kernel": map[string]any{
			"sysname": "Linux", "release": "6.14.11-4-pve", "machine": "x86_64",
			"version": "#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-4 (2025-10-10T08:04Z)",
		},
	}, nil
}

func (s *Server) storageRow(st *storage) map[string]any {
	used := s.st.used(st)
	avail := s.st.avail(st)
	frac := 0.0
	if st.Size > 0 {
		frac = float64(used) / float64(st.Size)
	}
	return map[string]any{
		"storage": st.Name, "type": st.Type, "content": st.Content, "active": 1, "enabled": 1,
		"shared": b2i(st.Shared), "total": st.Size, "used": used, "avail": avail, "used_fraction": frac,
	}
}

func (s *Server) handleStorageList(c *call) (any, *apiError) {
	out := []map[string]any{}
	want := splitList(c.params["content"])
	for _, st := range s.st.nodeStorages(c.vars["node"]) {
		if name := c.params["storage"]; name != "" && name != st.Name {
			continue
		}
		if len(want) > 0 && !slices.ContainsFunc(want, st.has) {
			continue
		}
		out = append(out, s.storageRow(st))
	}
	return out, nil
}

func (s *Server) lookupStorage(c *call) (*storage, *apiError) {
	st := s.st.storage(c.vars["node"], c.vars["storage"])
	if st == nil {
		return nil, fail("storage '%s' does not exist", c.vars["storage"])
	}
	return st, nil
}

func (s *Server) handleStorageStatus(c *call) (any, *apiError) {
	st, err := s.lookupStorage(c)
	if err != nil {
		return nil, err
	}
	return s.storageRow(st), nil
}

// handleStorageContent lists container templates and guest volumes.
func (s *Server) handleStorageContent(c *call) (any, *apiError) {
	st, err := s.lookupStorage(c)
	if err != nil {
		return nil, err
	}
	content := c.params["content"]
	out := []map[string]any{}
	if (content == "" || content == "vztmpl") && st.has("vztmpl") {
		for _, v := range s.st.ctTmpls {
			if strings.HasPrefix(v, st.Name+":") {
				out = append(out, map[string]any{
					"volid": v, "content": "vztmpl", "format": templateFormat(v),
					"size": 126 << 20, "ctime": 1735689600,
				})
			}
		}
	}
	wantVMID := c.params["vmid"]
	for _, id := range slices.Sorted(maps.Keys(s.st.guests)) {
		g := s.st.guests[id]
		if wantVMID != "" && wantVMID != strconv.Itoa(id) {
			continue
		}
		for _, v := range g.volumes() {
			if s.st.storage(g.node, v.storage) != st {
				continue
			}
			kind := "images"
			if g.kind == KindCT {
				kind = "rootdir"
			}
			if content != "" && content != kind {
				continue
			}
			out = append(out, map[string]any{
				"volid": v.storage + ":" + v.name, "content": kind, "format": "raw",
				"size": v.size, "used": v.size, "vmid": g.vmid, "ctime": 1735689600,
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i]["volid"].(string) < out[j]["volid"].(string) })
	return out, nil
}

func templateFormat(volid string) string {
	switch {
	case strings.HasSuffix(volid, ".tar.zst"):
		return "tzst"
	case strings.HasSuffix(volid, ".tar.xz"):
		return "txz"
	}
	return "tgz"
}
