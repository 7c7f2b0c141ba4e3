package pve

import (
	"net/http"
	"strings"
)

// route is one implemented API method. tmpl is the path as PVE's schema
// writes it; perms lists the privileges PVE's permission check asks for.
type route struct {
	method string
	tmpl   string
	segs   []string
	perms  func(c *call) []permCheck
	handle func(s *Server, c *call) (any, *apiError)
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

func pathVar(seg string) (string, bool) {
	if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}

// matchRoute finds the route for method and path and its path variables.
func matchRoute(routes []*route, method, p string) (*route, map[string]string) {
	segs := splitPath(p)
	for _, rt := range routes {
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		vars := map[string]string{}
		ok := true
		for i, seg := range rt.segs {
			if name, isVar := pathVar(seg); isVar {
				if segs[i] == "" {
					ok = false
					break
				}
				vars[name] = segs[i]
				continue
			}
			if seg != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return rt, vars
		}
	}
	return nil, nil
}

func vmPerm(privs ...string) func(c *call) []permCheck {
	return func(c *call) []permCheck { return []permCheck{need("/vms/"+c.vars["vmid"], privs...)} }
}

func nodePerm(privs ...string) func(c *call) []permCheck {
	return func(c *call) []permCheck { return []permCheck{need("/nodes/"+c.vars["node"], privs...)} }
}

func storagePerm(c *call) []permCheck {
	return []permCheck{need("/storage/"+c.vars["storage"], "Datastore.Audit", "Datastore.AllocateSpace")}
}

// buildRoutes lists what the simulator implements, with the permission
// checks of PVE 9.1's schema.
func buildRoutes() []*route {
	get, post, put, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	r := []*route{
		{method: get, tmpl: "/version", handle: (*Server).handleVersion},
		{method: get, tmpl: "/cluster/status", perms: func(*call) []permCheck { return []permCheck{need("/", "Sys.Audit")} }, handle: (*Server).handleClusterStatus},
		{method: get, tmpl: "/cluster/resources", handle: (*Server).handleResources},
		{method: get, tmpl: "/cluster/nextid", handle: (*Server).handleNextID},
		{method: get, tmpl: "/nodes", handle: (*Server).handleNodes},
		{method: get, tmpl: "/nodes/{node}/status", perms: nodePerm("Sys.Audit"), handle: (*Server).handleNodeStatus},
		{method: get, tmpl: "/nodes/{node}/storage", handle: (*Server).handleStorageList},
		{method: get, tmpl: "/nodes/{node}/storage/{storage}/status", perms: storagePerm, handle: (*Server).handleStorageStatus},
		{method: get, tmpl: "/nodes/{node}/storage/{storage}/content", perms: storagePerm, handle: (*Server).handleStorageContent},
		{method: get, tmpl: "/access/permissions", handle: (*Server).handlePermissions},

		{method: get, tmpl: "/nodes/{node}/qemu", handle: (*Server).handleQemuList},
		{method: post, tmpl: "/nodes/{node}/qemu", perms: qemuCreatePerms, handle: (*Server).handleQemuCreate},
		{method: get, tmpl: "/nodes/{node}/qemu/{vmid}/status/current", perms: vmPerm("VM.Audit"), handle: (*Server).handleQemuStatus},
		{method: get, tmpl: "/nodes/{node}/qemu/{vmid}/config", perms: vmPerm("VM.Audit"), handle: (*Server).handleQemuConfigGet},
		{method: post, tmpl: "/nodes/{node}/qemu/{vmid}/config", perms: qemuConfigPerms, handle: (*Server).handleQemuConfigAsync},
		{method: put, tmpl: "/nodes/{node}/qemu/{vmid}/config", perms: qemuConfigPerms, handle: (*Server).handleQemuConfigSync},
		{method: post, tmpl: "/nodes/{node}/qemu/{vmid}/clone", perms: clonePerms, handle: (*Server).handleQemuClone},
		{method: put, tmpl: "/nodes/{node}/qemu/{vmid}/resize", perms: resizePerms, handle: (*Server).handleQemuResize},
		{method: post, tmpl: "/nodes/{node}/qemu/{vmid}/status/start", perms: vmPerm("VM.PowerMgmt"), handle: (*Server).handleQemuStart},
		{method: post, tmpl: "/nodes/{node}/qemu/{vmid}/status/shutdown", perms: vmPerm("VM.PowerMgmt"), handle: (*Server).handleQemuShutdown},
		{method: post, tmpl: "/nodes/{node}/qemu/{vmid}/status/stop", perms: vmPerm("VM.PowerMgmt"), handle: (*Server).handleQemuStop},
		{method: post, tmpl: "/nodes/{node}/qemu/{vmid}/status/reboot", perms: vmPerm("VM.PowerMgmt"), handle: (*Server).handleQemuReboot},
		{method: del, tmpl: "/nodes/{node}/qemu/{vmid}", perms: vmPerm("VM.Allocate"), handle: (*Server).handleQemuDelete},
		{method: post, tmpl: "/nodes/{node}/qemu/{vmid}/template", perms: vmPerm("VM.Allocate"), handle: (*Server).handleQemuTemplate},
		{method: get, tmpl: "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces", perms: vmPerm("VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"), handle: (*Server).handleAgentInterfaces},
		{method: get, tmpl: "/nodes/{node}/qemu/{vmid}/agent/file-read", perms: vmPerm("VM.GuestAgent.FileRead", "VM.GuestAgent.Unrestricted"), handle: (*Server).handleAgentFileRead},
		{method: get, tmpl: "/nodes/{node}/qemu/{vmid}/agent/get-osinfo", perms: vmPerm("VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"), handle: (*Server).handleAgentOSInfo},
		{method: get, tmpl: "/nodes/{node}/qemu/{vmid}/cloudinit", perms: vmPerm("VM.Audit"), handle: (*Server).handleCloudInitPending},
		{method: put, tmpl: "/nodes/{node}/qemu/{vmid}/cloudinit", perms: vmPerm("VM.Config.Cloudinit"), handle: (*Server).handleCloudInitRegenerate},
		{method: get, tmpl: "/nodes/{node}/qemu/{vmid}/cloudinit/dump", perms: vmPerm("VM.Audit"), handle: (*Server).handleCloudInitDump},

		{method: get, tmpl: "/nodes/{node}/lxc", handle: (*Server).handleLxcList},
		{method: post, tmpl: "/nodes/{node}/lxc", perms: lxcCreatePerms, handle: (*Server).handleLxcCreate},
		{method: get, tmpl: "/nodes/{node}/lxc/{vmid}/status/current", perms: vmPerm("VM.Audit"), handle: (*Server).handleLxcStatus},
		{method: get, tmpl: "/nodes/{node}/lxc/{vmid}/config", perms: vmPerm("VM.Audit"), handle: (*Server).handleLxcConfigGet},
		{method: put, tmpl: "/nodes/{node}/lxc/{vmid}/config", perms: lxcConfigPerms, handle: (*Server).handleLxcConfigPut},
		{method: post, tmpl: "/nodes/{node}/lxc/{vmid}/status/start", perms: vmPerm("VM.PowerMgmt"), handle: (*Server).handleLxcStart},
		{method: post, tmpl: "/nodes/{node}/lxc/{vmid}/status/shutdown", perms: vmPerm("VM.PowerMgmt"), handle: (*Server).handleLxcShutdown},
		{method: post, tmpl: "/nodes/{node}/lxc/{vmid}/status/stop", perms: vmPerm("VM.PowerMgmt"), handle: (*Server).handleLxcStop},
		{method: del, tmpl: "/nodes/{node}/lxc/{vmid}", perms: vmPerm("VM.Allocate"), handle: (*Server).handleLxcDelete},
		{method: get, tmpl: "/nodes/{node}/lxc/{vmid}/interfaces", perms: vmPerm("VM.Audit"), handle: (*Server).handleLxcInterfaces},

		{method: get, tmpl: "/nodes/{node}/tasks/{upid}/status", handle: (*Server).handleTaskStatus},
		{method: get, tmpl: "/nodes/{node}/tasks/{upid}/log", handle: (*Server).handleTaskLog},
	}
	for _, rt := range r {
		rt.segs = splitPath(rt.tmpl)
	}
	return r
}

// Routes lists the methods and paths the simulator implements, as
// "METHOD /path/{var}".
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, rt.method+" "+rt.tmpl)
	}
	return out
}
