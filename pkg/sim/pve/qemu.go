package pve

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (s *Server) handleQemuList(c *call) (any, *apiError) {
	out := []map[string]any{}
	for _, g := range s.guestsOn(c.vars["node"], KindVM) {
		out = append(out, baseStatus(g, c.now))
	}
	return out, nil
}

func agentEnabled(g *guest) bool {
	v := g.conf["agent"]
	return propGet(v, "") == "1" || propGet(v, "enabled") == "1"
}

func (s *Server) handleQemuStatus(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	out := baseStatus(g, c.now)
	out["qmpstatus"] = g.status()
	out["ha"] = map[string]any{"managed": 0}
	if agentEnabled(g) {
		out["agent"] = 1
	}
	if _, ok := g.conf["serial0"]; ok {
		out["serial"] = 1
	}
	if g.running {
		out["running-machine"] = "pc-i440fx-9.2+pve1"
		out["running-qemu"] = "9.2.0"
		out["balloon"] = g.memoryBytes()
		out["freemem"] = g.memoryBytes() / 2
	}
	return out, nil
}

func (s *Server) handleQemuConfigGet(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	return s.renderConfig(g), nil
}

func (s *Server) updateQemuConfig(c *call) (*guest, *apiError) {
	// update_vm_api validates the keys before it loads the config.
	if err := checkSSHKeysParam(c.params); err != nil {
		return nil, err
	}
	g, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	if err := checkLock(g, c); err != nil {
		return nil, err
	}
	return g, s.applyConfig(g, c, false)
}

// handleQemuConfigAsync is POST .../config: a qmconfig task.
func (s *Server) handleQemuConfigAsync(c *call) (any, *apiError) {
	g, err := s.updateQemuConfig(c)
	if err != nil {
		return nil, err
	}
	t := s.newTask(c, g.node, "qmconfig", strconv.Itoa(g.vmid), nil, nil, nil)
	return t.upid, nil
}

// handleQemuConfigSync is PUT .../config: applied at once, data null.
func (s *Server) handleQemuConfigSync(c *call) (any, *apiError) {
	if _, err := s.updateQemuConfig(c); err != nil {
		return nil, err
	}
	return nil, nil
}

// existsError is what create and clone say about a VMID in use.
func (s *Server) existsError(vmid int, what string) *apiError {
	other := s.st.guests[vmid]
	return fail("unable to create %s %d - %s %d already exists on node '%s'", what, vmid, other.word(), vmid, other.node)
}

// handleQemuCreate is POST /nodes/{node}/qemu: a qmcreate task.
func (s *Server) handleQemuCreate(c *call) (any, *apiError) {
	// create_vm validates the keys before it looks at the VMID.
	if err := checkSSHKeysParam(c.params); err != nil {
		return nil, err
	}
	vmid, _ := strconv.Atoi(c.params["vmid"])
	if _, taken := s.st.guests[vmid]; taken {
		return nil, s.existsError(vmid, "VM")
	}
	g := &guest{vmid: vmid, kind: KindVM, node: c.vars["node"], conf: map[string]string{}, lock: "create"}
	start := c.params["start"] == "1"
	for _, k := range []string{"start", "pool", "storage", "unique", "archive", "force"} {
		delete(c.params, k)
	}
	if err := s.applyConfig(g, c, true); err != nil {
		return nil, err
	}
	if _, ok := g.conf["memory"]; !ok {
		g.setConf("memory", "512")
	}
	g.setConf("smbios1", "uuid="+fakeUUID(vmid, 0))
	g.setConf("vmgenid", fakeUUID(vmid, 1))
	if err := s.identify(g); err != nil {
		return nil, err
	}
	s.st.guests[vmid] = g
	id := strconv.Itoa(vmid)
	t := s.newTask(c, g.node, "qmcreate", id, nil,
		func(at time.Time) error {
			if err := s.checkCapacity(g); err != nil {
				delete(s.st.guests, vmid)
				return fmt.Errorf("unable to create VM %d - %w", vmid, err)
			}
			g.lock = ""
			if start {
				s.startGuest(g, at)
			}
			return nil
		},
		func(time.Time) { delete(s.st.guests, vmid) })
	return t.upid, nil
}

// handleQemuClone is POST .../clone: sync checks, then a qmclone task
// on the source VM while the new VM exists locked "clone".
func (s *Server) handleQemuClone(c *call) (any, *apiError) {
	src, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	newid, _ := strconv.Atoi(c.params["newid"])
	target := c.vars["node"]
	if t := c.params["target"]; t != "" {
		target = t
	}
	tnode := s.st.node(target)
	if tnode == nil {
		return nil, fail("no such cluster node '%s'", target)
	}
	if !tnode.online {
		return nil, fail("target node '%s' is not online", target)
	}
	if other, taken := s.st.guests[newid]; taken {
		if other.node == target {
			return nil, fail("unable to create VM %d: config file already exists", newid)
		}
		return nil, s.existsError(newid, "VM")
	}
	full := !src.template()
	if v, ok := c.params["full"]; ok {
		full = v == "1"
	}
	storName := c.params["storage"]
	if storName != "" && !full {
		return nil, fail("parameter 'storage' not allowed for linked clones")
	}
	if !full && !src.template() {
		return nil, fail("Linked clone feature is not supported for a VM that is not a template")
	}
	if src.lock != "" {
		return nil, fail("VM is locked (%s)", src.lock)
	}
	// The worker locks the source's config; a clone still running from
	// the same template holds it past the lock timeout.
	if s.st.runningTask(src.node, "qmclone", strconv.Itoa(src.vmid)) != nil {
		return nil, fail("can't lock file '/var/lock/qemu-server/lock-%d.conf' - got timeout", src.vmid)
	}
	vols := src.volumes()
	if target != src.node {
		for _, v := range vols {
			if st := s.st.storage(src.node, v.storage); st != nil && !st.Shared && storName == "" {
				return nil, fail("can't clone VM to node '%s' (VM uses local storage)", target)
			}
		}
	}
	if storName != "" {
		st := s.st.storage(target, storName)
		if st == nil {
			return nil, fail("storage '%s' does not exist", storName)
		}
		if !st.has("images") {
			return nil, fail("storage '%s' does not support vm images", storName)
		}
	}
	conf := maps.Clone(src.conf)
	delete(conf, "template")
	name := c.params["name"]
	if name == "" {
		name = "Copy-of-VM-" + src.name()
	}
	conf["name"] = name
	if d, ok := c.params["description"]; ok {
		conf["description"] = d
	}
	conf["smbios1"] = "uuid=" + fakeUUID(newid, 0)
	conf["vmgenid"] = fakeUUID(newid, 1)
	var lines []string
	var taken []string
	for _, v := range vols {
		storage := v.storage
		if storName != "" && !strings.Contains(v.name, "cloudinit") {
			storage = storName
		}
		vol := s.st.nextDiskName(newid, storage, taken)
		if strings.Contains(v.name, "cloudinit") {
			vol = fmt.Sprintf("vm-%d-cloudinit", newid)
		}
		taken = append(taken, vol)
		newVol := storage + ":" + vol
		mode := "full"
		if !full && !strings.Contains(v.name, "cloudinit") {
			mode = "linked"
			newVol = fmt.Sprintf("%s:%s/%s", v.storage, v.name, vol)
		}
		old := conf[v.key]
		conf[v.key] = strings.Replace(old, v.storage+":"+v.name, newVol, 1)
		lines = append(lines, fmt.Sprintf("create %s clone of drive %s (%s:%s)", mode, v.key, v.storage, v.name))
		if full && v.size > 0 {
			lines = append(lines, fmt.Sprintf("transferred %s of %s (100.00%%)", humanSize(v.size), humanSize(v.size)))
		}
	}
	clone := &guest{vmid: newid, kind: KindVM, node: target, conf: conf, lock: "clone"}
	if err := s.identify(clone); err != nil {
		return nil, err
	}
	for _, k := range clone.nics() {
		conf[k] = s.vmNet(stripMAC(conf[k]))
	}
	s.st.guests[newid] = clone
	srcID := strconv.Itoa(src.vmid)
	t := s.newTask(c, src.node, "qmclone", srcID, lines,
		func(time.Time) error {
			if err := s.checkCapacity(clone); err != nil {
				delete(s.st.guests, newid)
				return fmt.Errorf("clone failed: %w", err)
			}
			clone.lock = ""
			return nil
		},
		func(time.Time) { delete(s.st.guests, newid) })
	return t.upid, nil
}

// stripMAC drops the MAC of a NIC so the clone gets a new one, as PVE
// does.
func stripMAC(v string) string {
	var keep []kv
	for _, it := range splitProps(v) {
		if slices.Contains(netModels, it.Key) {
			keep = append(keep, kv{Value: it.Key})
			continue
		}
		if it.Key == "macaddr" {
			continue
		}
		keep = append(keep, it)
	}
	return joinProps(keep)
}

func humanSize(b uint64) string {
	return fmt.Sprintf("%.1f GiB", float64(b)/float64(gib))
}

// handleQemuResize is PUT .../resize: a resize task (PVE 8.0+).
func (s *Server) handleQemuResize(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	if err := checkLock(g, c); err != nil {
		return nil, err
	}
	disk := c.params["disk"]
	if _, ok := g.conf[disk]; !ok {
		return nil, fail("disk '%s' does not exist", disk)
	}
	sizeArg := c.params["size"]
	grow := strings.HasPrefix(sizeArg, "+")
	amount, ok := parseSize(strings.TrimPrefix(sizeArg, "+"))
	if !ok {
		return nil, paramError(map[string]string{"size": "unable to parse size '" + sizeArg + "'"})
	}
	t := s.newTask(c, g.node, "resize", strconv.Itoa(g.vmid), nil, func(time.Time) error {
		var vol *volume
		for _, v := range g.volumes() {
			if v.key == disk {
				vol = &v
			}
		}
		if vol == nil {
			return fmt.Errorf("disk '%s' does not exist", disk)
		}
		newSize := amount
		if grow {
			newSize = vol.size + amount
		}
		if newSize < vol.size {
			return fmt.Errorf("shrinking disks is not supported")
		}
		if st := s.st.storage(g.node, vol.storage); st != nil && !vol.linked {
			if msg := s.storageFull(st, vol.name, newSize-vol.size); msg != "" {
				return fmt.Errorf("%s", msg)
			}
		}
		g.setConf(disk, propSet(g.conf[disk], "size", formatSize(newSize)))
		return nil
	}, nil)
	return t.upid, nil
}

func (s *Server) powerTask(c *call, typ string, check func(g *guest) *apiError, finish func(g *guest, at time.Time) error) (any, *apiError) {
	g, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	if err := checkLock(g, c); err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(g); err != nil {
			return nil, err
		}
	}
	t := s.newTask(c, g.node, typ, strconv.Itoa(g.vmid), nil, func(at time.Time) error {
		if s.st.guests[g.vmid] != g {
			//lint:ignore ST1005 PVE's own message, word for word
			return fmt.Errorf("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", g.node, g.vmid)
		}
		return finish(g, at)
	}, nil)
	return t.upid, nil
}

func (s *Server) startGuest(g *guest, at time.Time) {
	g.running = true
	g.startedAt = at
	g.agentAt = at.Add(s.opts.Latency.scale(s.opts.Latency.AgentBoot))
	g.pid = s.st.nextPID()
}

func (s *Server) handleQemuStart(c *call) (any, *apiError) {
	return s.powerTask(c, "qmstart", nil, func(g *guest, at time.Time) error {
		if g.template() {
			return fmt.Errorf("you can't start a vm if it's a template")
		}
		if g.running {
			return fmt.Errorf("VM %d already running", g.vmid)
		}
		s.startGuest(g, at)
		return nil
	})
}

func stopGuest(g *guest, _ time.Time) error {
	g.running = false
	g.pid = 0
	return nil
}

func (s *Server) handleQemuShutdown(c *call) (any, *apiError) {
	return s.powerTask(c, "qmshutdown", nil, stopGuest)
}

func (s *Server) handleQemuStop(c *call) (any, *apiError) {
	return s.powerTask(c, "qmstop", nil, stopGuest)
}

func (s *Server) handleQemuReboot(c *call) (any, *apiError) {
	return s.powerTask(c, "qmreboot", func(g *guest) *apiError {
		if !g.running {
			return fail("VM %d not running", g.vmid)
		}
		return nil
	}, func(g *guest, at time.Time) error {
		s.startGuest(g, at)
		return nil
	})
}

// handleQemuDelete is DELETE .../qemu/{vmid}: a qmdestroy task.
func (s *Server) handleQemuDelete(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	if err := checkLock(g, c); err != nil {
		return nil, err
	}
	if g.running {
		return nil, fail("VM %d is running - destroy failed", g.vmid)
	}
	if g.conf["protection"] == "1" {
		return nil, fail("can't remove VM %d - protection mode enabled", g.vmid)
	}
	var lines []string
	for _, v := range g.volumes() {
		lines = append(lines, fmt.Sprintf("  Logical volume \"%s\" successfully removed.", v.name))
	}
	t := s.newTask(c, g.node, "qmdestroy", strconv.Itoa(g.vmid), lines, func(time.Time) error {
		delete(s.st.guests, g.vmid)
		return nil
	}, nil)
	return t.upid, nil
}

// handleQemuTemplate is POST .../template: a qmtemplate task.
func (s *Server) handleQemuTemplate(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	if err := checkLock(g, c); err != nil {
		return nil, err
	}
	if g.running {
		return nil, fail("you can't convert a VM to template if VM is running")
	}
	t := s.newTask(c, g.node, "qmtemplate", strconv.Itoa(g.vmid), nil, func(time.Time) error {
		for _, v := range g.volumes() {
			if strings.HasPrefix(v.name, "vm-") && !strings.Contains(v.name, "cloudinit") {
				g.setConf(v.key, strings.Replace(g.conf[v.key], v.storage+":"+v.name, v.storage+":base-"+strings.TrimPrefix(v.name, "vm-"), 1))
			}
		}
		g.setConf("template", "1")
		return nil
	}, nil)
	return t.upid, nil
}
