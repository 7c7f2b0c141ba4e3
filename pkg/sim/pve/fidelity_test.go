package pve

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

// capture is one response go-proxmox's tests/mocks register with gock:
// captured from real PVE (or written after it) for PVE 7, 8 and 9.
type capture struct {
	method, path string // path is gock's regexp, e.g. ^/nodes/node1/status$
	params       map[string]string
	status       int
	body         string
}

// loadCaptures reads the mocks' Go source from the module cache without
// importing them (they need gock, which homelab does not depend on).
func loadCaptures(t *testing.T, version string) []capture {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/luthermonson/go-proxmox").Output()
	if err != nil {
		t.Skipf("locating go-proxmox in the module cache: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "tests", "mocks", version)
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Skipf("no go-proxmox mocks in %s: %v", dir, err)
	}
	var caps []capture
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatalf("parsing %s: %v", f, err)
		}
		// Bodies kept in a local variable first (versionJSON := `...`).
		vars := map[string]string{}
		ast.Inspect(file, func(n ast.Node) bool {
			if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 {
				if id, ok := as.Lhs[0].(*ast.Ident); ok {
					if v := stringLit(as.Rhs[0]); v != "" {
						vars[id.Name] = v
					}
				}
			}
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "JSON" || len(call.Args) != 1 {
				return true
			}
			c := capture{params: map[string]string{}}
			c.body = stringLit(call.Args[0])
			if id, ok := call.Args[0].(*ast.Ident); ok {
				c.body = vars[id.Name]
			}
			for x := sel.X; ; {
				inner, ok := x.(*ast.CallExpr)
				if !ok {
					break
				}
				isel, ok := inner.Fun.(*ast.SelectorExpr)
				if !ok {
					break
				}
				switch name := isel.Sel.Name; name {
				case "Get", "Post", "Put", "Delete":
					c.method = strings.ToUpper(name)
					c.path = stringLit(inner.Args[0])
				case "Reply":
					if lit, ok := inner.Args[0].(*ast.BasicLit); ok {
						c.status, _ = strconv.Atoi(lit.Value)
					}
				case "MatchParam":
					c.params[stringLit(inner.Args[0])] = stringLit(inner.Args[1])
				case "MatchParams":
					if cl, ok := inner.Args[0].(*ast.CompositeLit); ok {
						for _, e := range cl.Elts {
							kv := e.(*ast.KeyValueExpr)
							c.params[stringLit(kv.Key)] = stringLit(kv.Value)
						}
					}
				}
				x = isel.X
			}
			if c.method != "" && c.body != "" {
				caps = append(caps, c)
			}
			return false
		})
	}
	return caps
}

func stringLit(e ast.Expr) string {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return ""
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return ""
	}
	return s
}

func findCapture(caps []capture, method, path string, params map[string]string) *capture {
	for i := range caps {
		c := &caps[i]
		p := strings.TrimSuffix(strings.TrimPrefix(c.path, "^"), "$")
		p = strings.ReplaceAll(p, `\.`, ".")
		if c.method == method && p == path && c.status == 200 && reflect.DeepEqual(c.params, params) {
			return c
		}
	}
	return nil
}

// decodeData unwraps {"data": ...} into v as go-proxmox does.
func decodeData(body string, v any) error {
	var env map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return err
	}
	return json.Unmarshal(env["data"], v)
}

// nonZero lists the named fields that are set, over every element when
// v is a slice.
func nonZero(v any, fields []string) map[string]bool {
	out := map[string]bool{}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	elems := []reflect.Value{rv}
	if rv.Kind() == reflect.Slice {
		elems = nil
		for i := range rv.Len() {
			elems = append(elems, reflect.Indirect(rv.Index(i)))
		}
	}
	for _, e := range elems {
		for _, f := range fields {
			if fv := e.FieldByName(f); fv.IsValid() && !fv.IsZero() {
				out[f] = true
			}
		}
	}
	return out
}

type fidelityCase struct {
	name       string
	mockPath   string
	mockParams map[string]string
	ourPath    string // default mockPath
	method     string // default GET
	newValue   func() any
	fields     []string
	// kinds compares the JSON kinds of the keys both sides send.
	kinds bool
}

func fidelityCases(upid string) []fidelityCase {
	return []fidelityCase{
		{name: "version", mockPath: "/version", newValue: func() any { return &proxmox.Version{} }, fields: []string{"Release", "Version"}, kinds: true},
		{name: "cluster status", mockPath: "/cluster/status", newValue: func() any { return &proxmox.Cluster{} }, fields: []string{"Name", "ID", "Version", "Quorate", "Nodes"}, kinds: true},
		{name: "cluster resources", mockPath: "/cluster/resources", newValue: func() any { return &proxmox.ClusterResources{} },
			fields: []string{"ID", "Type", "VMID", "Name", "Node", "Status", "Template", "Tags", "MaxCPU", "MaxMem", "MaxDisk", "Mem", "CPU", "Uptime"}, kinds: true},
		{name: "nextid", mockPath: "/cluster/nextid", newValue: func() any { var s string; return &s }, kinds: true},
		{name: "nodes", mockPath: "/nodes", newValue: func() any { return &proxmox.NodeStatuses{} },
			fields: []string{"Node", "Status", "ID", "Type", "MaxCPU", "MaxMem", "Mem", "CPU", "Uptime", "SSLFingerprint", "MaxDisk", "Disk"}, kinds: true},
		{name: "node status", mockPath: "/nodes/node1/status", newValue: func() any { return &proxmox.Node{} },
			fields: []string{"CPU", "CPUInfo", "Memory", "Uptime", "LoadAvg", "PVEVersion", "Kversion"}, kinds: true},
		{name: "storages", mockPath: "/nodes/node1/storage", newValue: func() any { return &proxmox.Storages{} },
			fields: []string{"Name", "Type", "Content", "Enabled", "Active", "Total", "Used", "Avail"}, kinds: true},
		{name: "storage status", mockPath: "/nodes/node1/storage/local/status", newValue: func() any { return &proxmox.Storage{} },
			fields: []string{"Type", "Content", "Enabled", "Active", "Total", "Used", "Avail"}, kinds: true},
		{name: "vztmpl content", mockPath: "/nodes/node1/storage/local/content", mockParams: map[string]string{"content": "vztmpl"},
			ourPath: "/nodes/node1/storage/local/content?content=vztmpl", newValue: func() any { return &proxmox.VzTmpls{} },
			fields: []string{"VolID", "Size", "Format", "Content", "CTime"}, kinds: true},
		{name: "qemu status", mockPath: "/nodes/node1/qemu/101/status/current", newValue: func() any { return &proxmox.VirtualMachine{} },
			fields: []string{"Name", "Status", "VMID", "CPUs", "MaxMem", "MaxDisk", "Mem", "Uptime", "QMPStatus", "Agent", "PID", "RunningQemu", "RunningMachine", "Template"}, kinds: true},
		{name: "qemu config", mockPath: "/nodes/node1/qemu/101/config", newValue: func() any { return &proxmox.VirtualMachineConfig{} },
			fields: []string{"Name", "Cores", "Sockets", "Memory", "Nets", "SCSIs", "IDEs", "IPConfigs", "Tags", "Digest", "Boot", "OSType", "SCSIHW", "Serials"}, kinds: true},
		{name: "qemu config", mockPath: "/nodes/node1/qemu/100/config", ourPath: "/nodes/node1/qemu/101/config", newValue: func() any { return &proxmox.VirtualMachineConfig{} },
			fields: []string{"Name", "Cores", "Sockets", "Memory", "Nets", "SCSIs", "IDEs", "IPConfigs", "Tags", "Digest", "Boot", "OSType", "SCSIHW", "Serials"}, kinds: true},
		{name: "agent interfaces", mockPath: "/nodes/node1/qemu/101/agent/network-get-interfaces",
			newValue: func() any { return &struct{ Result []*proxmox.AgentNetworkIface }{} }, fields: []string{"Result"}},
		{name: "agent osinfo", mockPath: "/nodes/node1/qemu/101/agent/get-osinfo",
			newValue: func() any { return &struct{ Result *proxmox.AgentOsInfo }{} }, fields: []string{"Result"}, kinds: true},
		{name: "lxc list", mockPath: "/nodes/node1/lxc", newValue: func() any { return &proxmox.Containers{} },
			fields: []string{"Name", "Status", "VMID", "CPUs", "MaxMem", "MaxDisk", "MaxSwap", "Tags", "Uptime"}, kinds: true},
		{name: "lxc status", mockPath: "/nodes/node1/lxc/101/status/current", ourPath: "/nodes/node1/lxc/102/status/current",
			newValue: func() any { return &proxmox.Container{} }, fields: []string{"Name", "Status", "VMID", "CPUs", "MaxMem", "MaxDisk", "MaxSwap", "Tags"}, kinds: true},
		{name: "lxc config", mockPath: "/nodes/node1/lxc/101/config", ourPath: "/nodes/node1/lxc/102/config",
			newValue: func() any { return &proxmox.ContainerConfig{} },
			fields:   []string{"Hostname", "Cores", "Memory", "Swap", "Nets", "RootFS", "Arch", "OSType", "Tags", "Digest"}, kinds: true},
		{name: "lxc interfaces", mockPath: "/nodes/node1/lxc/101/interfaces", ourPath: "/nodes/node1/lxc/102/interfaces",
			newValue: func() any { return &proxmox.ContainerInterfaces{} }, fields: []string{"Name", "HWAddr", "Inet"}, kinds: true},
		{name: "task status", mockPath: "/nodes/node1/tasks/UPID:node1:00000002:00000002:00000002:test:completed:root@pam:/status",
			ourPath: "/nodes/node1/tasks/" + upid + "/status", newValue: func() any { return &proxmox.Task{} },
			fields: []string{"UPID", "ID", "Type", "User", "Status", "Node", "PID", "PStart", "ExitStatus", "StartTime"}, kinds: true},
		{name: "task log", mockPath: "/nodes/node1/tasks/UPID:node1:00000001:00000001:00000001:test:running:root@pam:/log",
			ourPath: "/nodes/node1/tasks/" + upid + "/log", newValue: func() any { return &proxmox.Log{} }},
		{name: "qemu start", method: "POST", mockPath: "/nodes/node1/qemu/100/status/start", ourPath: "/nodes/node1/qemu/103/status/start",
			newValue: func() any { var u proxmox.UPID; return &u }},
		{name: "lxc start", method: "POST", mockPath: "/nodes/node1/lxc/101/status/start", ourPath: "/nodes/node1/lxc/104/status/start",
			newValue: func() any { var u proxmox.UPID; return &u }},
	}
}

// fidelityServer mirrors the mocks' objects: node1 and node2, a running
// VM 101 with an agent, a container (102 here: PVE's VMIDs are unique),
// stopped guests to start, and one finished task.
func fidelityServer(t *testing.T) (*Server, string) {
	clock := NewManualClock(time.Unix(1767225600, 0))
	s, err := New(Options{
		Clock: clock, Schema: schemaOrBuiltin(t),
		Nodes: []NodeSpec{{Name: "node1"}, {Name: "node2"}},
		Storages: []StorageSpec{
			{Name: "local", Type: "dir", Content: "images,rootdir,vztmpl,backup,iso,snippets", Size: 60 << 30, Used: 10 << 30},
			{Name: "local-lvm", Type: "lvmthin", Content: "images,rootdir", Size: 120 << 30},
		},
		VMTemplates: []VMTemplateSpec{{VMID: 100, Node: "node2", Name: "leap154"}},
		CTTemplates: []string{"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"},
	})
	if err != nil {
		t.Fatal(err)
	}
	vm := map[string]string{
		"cores": "2", "sockets": "1", "memory": "2048", "agent": "1", "ostype": "l26", "boot": "order=scsi0;ide2;net0",
		"scsihw": "virtio-scsi-pci", "scsi0": "local-lvm:vm-101-disk-0,size=32G", "ide2": "local:iso/debian-12.iso,media=cdrom",
		"net0": "virtio=BC:24:11:2E:C5:4A,bridge=vmbr0", "ipconfig0": "ip=192.168.1.10/24,gw=192.168.1.1", "serial0": "socket",
	}
	ct := map[string]string{
		"arch": "amd64", "cores": "1", "memory": "1024", "swap": "256", "ostype": "ubuntu", "rootfs": "local-lvm:vm-102-disk-0,size=8G",
		"net0": "name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:2E:C5:7E,ip=10.0.0.12/24,type=veth",
	}
	for _, g := range []Guest{
		{VMID: 101, Kind: KindVM, Node: "node1", Name: "matt", Status: "running", Tags: "production;webserver", Config: vm},
		{VMID: 103, Kind: KindVM, Node: "node1", Name: "idle", Tags: "x", Config: map[string]string{"memory": "512"}},
		{VMID: 102, Kind: KindCT, Node: "node1", Name: "ct-test-2", Status: "running", Tags: "tag1;tag2", Config: ct},
		{VMID: 104, Kind: KindCT, Node: "node1", Name: "ct-idle", Config: map[string]string{"rootfs": "local-lvm:vm-104-disk-0,size=2G"}},
	} {
		if err := s.Seed(g); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	clock.Advance(time.Hour)
	_, _, body := raw(t, s, "POST", "/nodes/node1/qemu/103/status/start", goodToken, "")
	var upid string
	if err := decodeData(body, &upid); err != nil {
		t.Fatal(err)
	}
	raw(t, s, "POST", "/nodes/node1/qemu/103/status/stop", goodToken, "")
	return s, upid
}

// TestFidelityWithCapturedResponses decodes the simulator's answers and
// the responses go-proxmox's tests captured from PVE 7, 8 and 9 into the
// same go-proxmox types and checks that what homelab reads is there, with
// the same JSON kinds.
func TestFidelityWithCapturedResponses(t *testing.T) {
	for _, version := range []string{"pve7x", "pve8x", "pve9x"} {
		caps := loadCaptures(t, version)
		t.Run(version, func(t *testing.T) {
			s, upid := fidelityServer(t)
			compared := 0
			for _, tc := range fidelityCases(upid) {
				method := tc.method
				if method == "" {
					method = "GET"
				}
				mock := findCapture(caps, method, tc.mockPath, orEmpty(tc.mockParams))
				if mock == nil {
					t.Logf("%s: no capture of %s %s", tc.name, method, tc.mockPath)
					continue
				}
				compared++
				ourPath := tc.ourPath
				if ourPath == "" {
					ourPath = tc.mockPath
				}
				_, code, body := raw(t, s, method, ourPath, goodToken, "")
				if code != 200 {
					t.Errorf("%s: simulator answered %d %s", tc.name, code, body)
					continue
				}
				theirs, ours := tc.newValue(), tc.newValue()
				if err := decodeData(mock.body, theirs); err != nil {
					t.Logf("%s: the capture itself does not decode: %v", tc.name, err)
					continue
				}
				if err := decodeData(body, ours); err != nil {
					t.Errorf("%s: simulator response does not decode into %T: %v\n%s", tc.name, ours, err, body)
					continue
				}
				want, got := nonZero(theirs, tc.fields), nonZero(ours, tc.fields)
				for f := range want {
					if !got[f] && !knownAbsent(version, tc.name, f) {
						t.Errorf("%s: %s is set in %s's capture but not by the simulator", tc.name, f, version)
					}
				}
				if tc.kinds {
					for _, d := range kindDiffs(mock.body, body) {
						if !knownKindDiff(tc.name, d) {
							t.Errorf("%s: %s", tc.name, d)
						}
					}
				}
				if u, ok := ours.(*proxmox.UPID); ok {
					task := proxmox.NewTask(*u, nil)
					if !reUPID.MatchString(string(*u)) || task.Node != "node1" || task.Type == "" || task.ID == "" {
						t.Errorf("%s: UPID %q decodes to %+v", tc.name, *u, task)
					}
				}
			}
			t.Logf("%s: compared %d endpoints", version, compared)
			if compared < 5 {
				t.Errorf("%s: only %d endpoints found in the captures", version, compared)
			}
		})
	}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// knownAbsent lists fields a capture sets that the simulator leaves
// out on purpose; none so far.
func knownAbsent(version, endpoint, field string) bool {
	return false
}

// kindDiffs compares the JSON kind of every key both answers send, one
// level into objects and the first element of arrays.
func kindDiffs(theirs, ours string) []string {
	var a, b struct{ Data any }
	if json.Unmarshal([]byte(theirs), &a) != nil || json.Unmarshal([]byte(ours), &b) != nil {
		return []string{"undecodable"}
	}
	var diffs []string
	var cmp func(path string, x, y any, depth int)
	cmp = func(path string, x, y any, depth int) {
		kx, ky := jsonKindOf(x), jsonKindOf(y)
		if kx == "null" || ky == "null" {
			return
		}
		if kx != ky {
			diffs = append(diffs, fmt.Sprintf("%s: captured %s, simulator %s", path, kx, ky))
			return
		}
		if depth > 2 {
			return
		}
		switch xv := x.(type) {
		case map[string]any:
			yv := y.(map[string]any)
			keys := make([]string, 0, len(xv))
			for k := range xv {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if yy, ok := yv[k]; ok {
					cmp(path+"."+k, xv[k], yy, depth+1)
				}
			}
		case []any:
			yv := y.([]any)
			if len(xv) > 0 && len(yv) > 0 {
				cmp(path+"[]", xv[0], yv[0], depth+1)
			}
		}
	}
	cmp("data", a.Data, b.Data, 0)
	return diffs
}

func jsonKindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

// knownKindDiff accepts differences where the capture predates PVE's
// current wire format.
func knownKindDiff(endpoint, diff string) bool {
	return slices.Contains([]string{
		// qemu-server 8.1 made memory a property string ([current=]<int>).
		"qemu config|data.memory: captured number, simulator string",
		// PVE 8 and 9 captures of the container list are hand-written;
		// PVE 7's real one sends vmid as a string, as the simulator does.
		"lxc list|data[].vmid: captured number, simulator string",
	}, endpoint+"|"+diff)
}
