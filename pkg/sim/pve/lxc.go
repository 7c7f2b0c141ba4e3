package pve

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

func urlDecode(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

func ctStatus(g *guest, now time.Time) map[string]any {
	row := baseStatus(g, now)
	row["type"] = "lxc"
	swap, _ := strconv.ParseUint(g.conf["swap"], 10, 64)
	row["maxswap"] = swap << 20
	row["swap"] = 0
	return row
}

func (s *Server) handleLxcList(c *call) (any, *apiError) {
	out := []map[string]any{}
	for _, g := range s.guestsOn(c.vars["node"], KindCT) {
		row := ctStatus(g, c.now)
		// pve-container lists VMIDs as the hash keys they are: strings.
		row["vmid"] = strconv.Itoa(g.vmid)
		out = append(out, row)
	}
	return out, nil
}

func (s *Server) handleLxcStatus(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindCT)
	if err != nil {
		return nil, err
	}
	out := ctStatus(g, c.now)
	out["ha"] = map[string]any{"managed": 0}
	return out, nil
}

func (s *Server) handleLxcConfigGet(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindCT)
	if err != nil {
		return nil, err
	}
	return s.renderConfig(g), nil
}

// handleLxcConfigPut is PUT .../lxc/{vmid}/config: applied at once, data
// null (go-proxmox's Container.Config then returns a nil task).
func (s *Server) handleLxcConfigPut(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindCT)
	if err != nil {
		return nil, err
	}
	if err := checkLock(g, c); err != nil {
		return nil, err
	}
	return nil, s.applyConfig(g, c, false)
}

// ctCreateOnly are create parameters that do not end up in the config.
var ctCreateOnly = []string{"ostemplate", "password", "ssh-public-keys", "start", "storage", "pool", "unique", "restore", "force", "ignore-unpack-errors", "bwlimit"}

// ostypeOf guesses the distribution from a template file name, as
// pve-container detects it from the unpacked archive.
func ostypeOf(volid string) string {
	base := path.Base(volid)
	for _, os := range []string{"debian", "ubuntu", "alpine", "centos", "fedora", "archlinux", "devuan", "opensuse", "gentoo", "nixos"} {
		if strings.HasPrefix(base, os) {
			return os
		}
	}
	return "unmanaged"
}

// handleLxcCreate is POST /nodes/{node}/lxc: a vzcreate task; the new
// container exists locked "create" until it ends.
func (s *Server) handleLxcCreate(c *call) (any, *apiError) {
	vmid, _ := strconv.Atoi(c.params["vmid"])
	if _, taken := s.st.guests[vmid]; taken {
		return nil, s.existsError(vmid, "CT")
	}
	if keys, ok := c.params["ssh-public-keys"]; ok {
		if err := validateSSHKeys(keys); err != nil {
			return nil, err
		}
	}
	nodeName := c.vars["node"]
	tmpl := c.params["ostemplate"]
	tmplStorage, _, isVol := strings.Cut(tmpl, ":")
	if isVol && !strings.HasPrefix(tmpl, "/") {
		st := s.st.storage(nodeName, tmplStorage)
		if st == nil {
			return nil, fail("storage '%s' does not exist", tmplStorage)
		}
		if !st.has("vztmpl") {
			return nil, fail("storage '%s' does not support container templates", tmplStorage)
		}
	}
	start := c.params["start"] == "1"
	if _, ok := c.params["rootfs"]; !ok {
		storage := c.params["storage"]
		if storage == "" {
			storage = "local"
		}
		c.params["rootfs"] = storage + ":4"
	}
	for _, k := range ctCreateOnly {
		delete(c.params, k)
	}
	g := &guest{vmid: vmid, kind: KindCT, node: nodeName, lock: "create", conf: map[string]string{
		"arch": "amd64", "ostype": ostypeOf(tmpl), "memory": "512", "swap": "512",
	}}
	if err := s.applyConfig(g, c, true); err != nil {
		return nil, err
	}
	if _, ok := g.conf["hostname"]; !ok {
		g.setConf("hostname", fmt.Sprintf("CT%d", vmid))
	}
	if err := s.identify(g); err != nil {
		return nil, err
	}
	keyLines, kerr := g.id.hostKeyLines(g.name())
	if kerr != nil {
		return nil, fail("unable to create CT %d - %v", vmid, kerr)
	}
	s.st.guests[vmid] = g
	lines := append([]string{
		fmt.Sprintf("extracting archive '/var/lib/vz/template/cache/%s'", path.Base(tmpl)),
		"Total bytes read: 524288000 (500MiB, 187MiB/s)",
		"Detected container architecture: amd64",
	}, keyLines...)
	var t *task
	t = s.newTask(c, nodeName, "vzcreate", strconv.Itoa(vmid), lines, func(at time.Time) error {
		if isVol && !slices.Contains(s.st.ctTmpls, tmpl) {
			delete(s.st.guests, vmid)
			return fmt.Errorf("unable to create CT %d - volume '%s' does not exist", vmid, tmpl)
		}
		if err := s.checkCapacity(g); err != nil {
			delete(s.st.guests, vmid)
			return fmt.Errorf("unable to create CT %d - %w", vmid, err)
		}
		g.lock = ""
		// pve-container's post_create_hook: check_systemd_nesting warns
		// (log_warn), and the task ends in WARNINGS.
		if w := nestingWarning(tmpl, g.conf["features"]); w != "" {
			t.warn(w)
		}
		if start {
			s.startGuest(g, at)
		}
		return nil
	}, func(time.Time) { delete(s.st.guests, vmid) })
	return t.upid, nil
}

func (s *Server) ctTask(c *call, typ string, check func(g *guest) *apiError, finish func(g *guest, at time.Time)) (any, *apiError) {
	g, err := s.lookupGuest(c, KindCT)
	if err != nil {
		return nil, err
	}
	if err := checkLock(g, c); err != nil {
		return nil, err
	}
	if err := check(g); err != nil {
		return nil, err
	}
	t := s.newTask(c, g.node, typ, strconv.Itoa(g.vmid), nil, func(at time.Time) error {
		finish(g, at)
		return nil
	}, nil)
	return t.upid, nil
}

func mustRun(g *guest) *apiError {
	if !g.running {
		return fail("CT %d not running", g.vmid)
	}
	return nil
}

func (s *Server) handleLxcStart(c *call) (any, *apiError) {
	return s.ctTask(c, "vzstart", func(g *guest) *apiError {
		if g.running {
			return fail("CT %d already running", g.vmid)
		}
		if g.template() {
			return fail("cannot start container template")
		}
		return nil
	}, func(g *guest, at time.Time) { s.startGuest(g, at) })
}

func (s *Server) handleLxcShutdown(c *call) (any, *apiError) {
	return s.ctTask(c, "vzshutdown", mustRun, func(g *guest, at time.Time) { _ = stopGuest(g, at) })
}

func (s *Server) handleLxcStop(c *call) (any, *apiError) {
	return s.ctTask(c, "vzstop", mustRun, func(g *guest, at time.Time) { _ = stopGuest(g, at) })
}

// handleLxcDelete is DELETE .../lxc/{vmid}: a vzdestroy task.
func (s *Server) handleLxcDelete(c *call) (any, *apiError) {
	return s.ctTask(c, "vzdestroy", func(g *guest) *apiError {
		if g.running && c.params["force"] != "1" {
			return fail("unable to destroy CT %d - container is running", g.vmid)
		}
		if g.conf["protection"] == "1" {
			return fail("can't remove CT %d - protection mode enabled", g.vmid)
		}
		return nil
	}, func(g *guest, _ time.Time) { delete(s.st.guests, g.vmid) })
}

// handleLxcInterfaces is GET .../lxc/{vmid}/interfaces.
func (s *Server) handleLxcInterfaces(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindCT)
	if err != nil {
		return nil, err
	}
	if err := mustRun(g); err != nil {
		return nil, err
	}
	out := []map[string]any{{"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128"}}
	for i, key := range g.nics() {
		mac := strings.ToLower(g.nicMAC(key))
		row := map[string]any{"name": propGet(g.conf[key], "name"), "hwaddr": mac, "inet6": linkLocal(mac)}
		for _, a := range g.nicAddresses(key, i) {
			if strings.Contains(a, ".") {
				row["inet"] = a
			}
		}
		out = append(out, row)
	}
	return out, nil
}
