package pve

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

// TestMissingGuestIs500 checks PVE's answer for a guest that is not on
// the node asked: 500 with the message in the reason phrase, which is all
// go-proxmox reports.
func TestMissingGuestIs500(t *testing.T) {
	_, c := start(t, Options{})
	cx := ctx(t)
	node, _ := c.Node(cx, "pve-s1")
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"absent VM", func() error { _, err := node.VirtualMachine(cx, 4242); return err },
			"500 Configuration file 'nodes/pve-s1/qemu-server/4242.conf' does not exist"},
		{"VM on another node", func() error { _, err := node.VirtualMachine(cx, 9001); return err },
			"500 Configuration file 'nodes/pve-s1/qemu-server/9001.conf' does not exist"},
		{"absent CT", func() error { _, err := node.Container(cx, 4242); return err },
			"500 Configuration file 'nodes/pve-s1/lxc/4242.conf' does not exist"},
		{"unknown node", func() error { _, err := c.Node(cx, "pve-s9"); return err },
			"500 hostname lookup 'pve-s9' failed - failed to get address info for: pve-s9: Name or service not known"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWireShapes(t *testing.T) {
	s, _ := start(t, Options{})
	status, code, body := raw(t, s, "GET", "/nodes/pve-s1/qemu/777/config", goodToken, "")
	if code != 500 || status != "500 Configuration file 'nodes/pve-s1/qemu-server/777.conf' does not exist" {
		t.Errorf("status line %q", status)
	}
	if body != `{"data":null,"message":"Configuration file 'nodes/pve-s1/qemu-server/777.conf' does not exist\n"}` {
		t.Errorf("error body %s", body)
	}
	if _, code, _ := raw(t, s, "GET", "/nodes/pve-s1/bogus", goodToken, ""); code != 501 {
		t.Errorf("unknown path answered %d, want 501", code)
	}
	_, _, body = raw(t, s, "GET", "/cluster/nextid", goodToken, "")
	if body != `{"data":"100"}` {
		t.Errorf("nextid body %s, want a JSON string", body)
	}
	status, code, body = raw(t, s, "GET", "/cluster/nextid?vmid=9000", goodToken, "")
	if code != 400 || status != "400 Parameter verification failed." || !strings.Contains(body, `"errors":{"vmid":"VM 9000 already exists"}`) {
		t.Errorf("nextid?vmid=9000: %s %s", status, body)
	}
	status, _, body = raw(t, s, "GET", "/nodes/pve-s1/tasks/UPID:pve-s1:00001234:00005678:6956A280:qmstart:105:root@pam:/status", goodToken, "")
	if status != "400 Parameter verification failed." || !strings.Contains(body, `"errors":{"upid":"no such task"}`) {
		t.Errorf("unknown task: %s %s", status, body)
	}
	var cfg struct {
		Data map[string]any `json:"data"`
	}
	_, _, body = raw(t, s, "GET", "/nodes/pve-s1/qemu/9000/config", goodToken, "")
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"template": "number", "cores": "number", "memory": "string", "agent": "string", "net0": "string"} {
		got := "string"
		if _, ok := cfg.Data[key].(float64); ok {
			got = "number"
		}
		if got != want {
			t.Errorf("config %s = %#v, want a JSON %s", key, cfg.Data[key], want)
		}
	}
	_, _, body = raw(t, s, "GET", "/nodes/pve-s1/qemu/9000/status/current", goodToken, "")
	if !strings.Contains(body, `"template":1`) || strings.Contains(body, "true") || strings.Contains(body, "false") {
		t.Errorf("status/current of a template: %s", body)
	}
}

// roSecret is the read-only test token's secret.
const roSecret = "0b6f1c2e-8d4a-4f3b-9c7e-2a5d6e8f1a3b"

func TestAuthentication(t *testing.T) {
	s, _ := start(t, Options{Tokens: []Token{
		{ID: DefaultTokenID, Secret: DefaultTokenSecret},
		{ID: "homelab@pve!ro", Secret: roSecret, Privileges: map[string][]string{"/": {"Sys.Audit", "VM.Audit"}}},
	}})
	cx := ctx(t)
	if _, err := client(s, DefaultTokenID, "wrong").Version(cx); !proxmox.IsNotAuthorized(err) {
		t.Errorf("wrong secret: %v, want not authorized", err)
	}
	for token, want := range map[string]string{
		"":                                  "401 No ticket",
		DefaultTokenID + "=wrong":           "401 invalid token value!",
		"root@pam!nobody=" + DefaultTokenID: "401 no such token 'nobody' for user 'root@pam'",
	} {
		if status, _, _ := raw(t, s, "GET", "/version", token, ""); status != want {
			t.Errorf("token %q: %q, want %q", token, status, want)
		}
	}
	ro := client(s, "homelab@pve!ro", roSecret)
	node, err := ro.Node(cx, "pve-s1")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := node.VirtualMachine(cx, 9000)
	if err != nil {
		t.Fatalf("read-only token reading: %v", err)
	}
	if _, _, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 150}); !proxmox.IsNotAuthorized(err) {
		t.Errorf("clone without VM.Clone: %v", err)
	}
	status, code, _ := raw(t, s, "POST", "/nodes/pve-s1/qemu/9000/clone", "homelab@pve!ro="+roSecret, `{"newid":150}`)
	if code != 403 || status != "403 Permission check failed (/vms/9000, VM.Clone)" {
		t.Errorf("clone without VM.Clone: %q", status)
	}
	if err := s.SetPrivileges("homelab@pve!ro", map[string][]string{"/vms": {"VM.Clone", "VM.Allocate", "VM.Audit"},
		"/storage": {"Datastore.AllocateSpace"}, "/sdn/zones/localnetwork/vmbr0": {"SDN.Use"}}); err != nil {
		t.Fatal(err)
	}
	status, _, _ = raw(t, s, "POST", "/nodes/pve-s1/qemu/9000/clone", "homelab@pve!ro="+roSecret, `{"newid":150}`)
	if !strings.HasPrefix(status, "200") {
		t.Errorf("clone with VM.Clone on /vms: %q", status)
	}
	status, _, _ = raw(t, s, "PUT", "/nodes/pve-s1/qemu/150/config", "homelab@pve!ro="+roSecret, `{"net0":"virtio,bridge=vmbr0","skiplock":1}`)
	if status != "403 Permission check failed (/vms/150, VM.Config.Network)" {
		t.Errorf("net0 without VM.Config.Network: %q", status)
	}
}

// TestCloneLockTimeout overlaps two clones of one template: the second
// cannot take the template's lock while the first runs.
func TestCloneLockTimeout(t *testing.T) {
	clock := NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, c := start(t, Options{Clock: clock, Latency: Latency{Tasks: map[string]time.Duration{"qmclone": 30 * time.Second}}})
	cx := ctx(t)
	node, _ := c.Node(cx, "pve-s1")
	tmpl, err := node.VirtualMachine(cx, 9000)
	if err != nil {
		t.Fatal(err)
	}
	_, first, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 105, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Ping(cx); err != nil || !first.IsRunning || first.IsCompleted {
		t.Fatalf("first clone: running %v completed %v, %v", first.IsRunning, first.IsCompleted, err)
	}
	_, _, err = tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 106, Full: true})
	if err == nil || err.Error() != "500 can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout" {
		t.Fatalf("overlapping clone: %v", err)
	}
	if g, _ := s.Guest(105); g.Lock != "clone" {
		t.Errorf("clone target lock %q, want clone", g.Lock)
	}
	vm := &proxmox.VirtualMachine{}
	vm.New(c, "pve-s1", 105)
	if err := vm.ConfigSync(cx, proxmox.VirtualMachineOption{Name: "cores", Value: 2}); err == nil || err.Error() != "500 VM is locked (clone)" {
		t.Errorf("config during clone: %v", err)
	}
	clock.Advance(30 * time.Second)
	if err := first.Ping(cx); err != nil || !first.IsSuccessful {
		t.Fatalf("first clone after 30s: %+v, %v", first, err)
	}
	if _, _, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 106, Full: true}); err != nil {
		t.Fatalf("clone after the first finished: %v", err)
	}
}

// TestFailedTasks: many failures are HTTP 200 and a task that ends badly;
// go-proxmox's Wait returns nil for them.
func TestFailedTasks(t *testing.T) {
	s, c := start(t, Options{})
	cx := ctx(t)
	wait, waitOK := waiter(t, cx), okWaiter(t, cx)
	node, _ := c.Node(cx, "pve-s1")
	tmpl, _ := node.VirtualMachine(cx, 9000)
	_, task, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 110, Full: true})
	waitOK(task, err)
	vm, _ := node.VirtualMachine(cx, 110)

	const msg = "start failed: QEMU exited with code 1"
	s.InjectTaskFault(TaskFault{Type: "qmstart", ExitStatus: msg})
	task = wait(vm.Start(cx))
	if !task.IsFailed || task.ExitStatus != msg {
		t.Errorf("injected failure: failed %v exit %q", task.IsFailed, task.ExitStatus)
	}
	log, err := task.Log(cx, 0, 50)
	if err != nil || log[len(log)-1] != "TASK ERROR: "+msg {
		t.Errorf("task log %v, %v", log, err)
	}
	if g, _ := s.Guest(110); g.Status != "stopped" {
		t.Errorf("VM %s after a failed start", g.Status)
	}
	waitOK(vm.Start(cx))
	task = wait(vm.Start(cx))
	if task.ExitStatus != "VM 110 already running" {
		t.Errorf("second start: %q", task.ExitStatus)
	}
	if _, err := vm.Delete(cx, nil); err == nil || err.Error() != "500 VM 110 is running - destroy failed" {
		t.Errorf("delete running VM: %v", err)
	}
	task = wait(vm.ResizeDisk(cx, "scsi0", "1G"))
	if task.ExitStatus != "shrinking disks is not supported" {
		t.Errorf("shrink: %q", task.ExitStatus)
	}

	if err := s.SetStorage("pve-s1", "local-lvm", 5<<30, 0); err != nil {
		t.Fatal(err)
	}
	_, task, err = tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 111, Full: true})
	task = wait(task, err)
	if !strings.HasPrefix(task.ExitStatus, "clone failed: lvcreate 'pve/vm-111-disk-0' error:   Volume group \"pve\" has insufficient free space") {
		t.Errorf("clone onto a full storage: %q", task.ExitStatus)
	}
	if _, ok := s.Guest(111); ok {
		t.Error("failed clone left VM 111 behind")
	}

	s.InjectTaskFault(TaskFault{Type: "vzcreate", ExitStatus: "WARNINGS: 1"})
	node2 := (&proxmox.Node{}).New(c, "pve-s2")
	task = wait(node2.NewContainer(cx, 130, proxmox.ContainerOption{Name: "ostemplate", Value: DefaultCTTemplate},
		proxmox.ContainerOption{Name: "rootfs", Value: "local-lvm:1"}))
	if task.ExitStatus != "WARNINGS: 1" || !task.IsFailed {
		t.Errorf("warnings: exit %q failed %v (go-proxmox counts warnings as failed)", task.ExitStatus, task.IsFailed)
	}
	if g, ok := s.Guest(130); !ok || g.Lock != "" {
		t.Errorf("container after a task with warnings: %+v %v", g, ok)
	}
}

func TestFaults(t *testing.T) {
	s, c := start(t, Options{})
	cx := ctx(t)
	node, _ := c.Node(cx, "pve-s1")
	tmpl, _ := node.VirtualMachine(cx, 9000)
	s.FailNext("POST", "/nodes/*/qemu/*/clone", 1, 500, "got no worker upid - start worker failed")
	if _, _, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 120}); err == nil || err.Error() != "500 got no worker upid - start worker failed" {
		t.Fatalf("injected clone failure: %v", err)
	}
	if _, _, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 120}); err != nil {
		t.Fatalf("clone after the fault: %v", err)
	}
	if n := s.Count("POST", "/nodes/*/qemu/*/clone"); n != 2 {
		t.Errorf("Count clone = %d, want 2", n)
	}
	s.DropNext("POST", "/nodes/*/qemu/*/clone", 1)
	if _, _, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 121}); err == nil {
		t.Error("dropped connection: no error")
	}
	if _, ok := s.Guest(121); ok {
		t.Error("dropped clone request was carried out")
	}
	// A request is logged before its answer (or the drop) reaches the
	// client, so the dropped clone is the last entry.
	log := s.Log()
	i := slices.IndexFunc(log, func(r Request) bool { return r.Params["newid"] == "121" })
	if i != len(log)-1 || log[i].Path != "/nodes/pve-s1/qemu/9000/clone" || log[i].Status != 0 {
		t.Errorf("dropped request not logged with status 0: %+v", log)
	}
	// Go's transport resends an idempotent request whose reused
	// connection closed before an answer, so a dropped GET may go unseen.
	s.DropNext("GET", "/version", 1)
	_, _ = c.Version(cx)
	if v, err := c.Version(cx); err != nil || v.Release != "9.1" {
		t.Errorf("after the drop: %+v %v", v, err)
	}

	if err := s.SetNodeOnline("pve-s2", false); err != nil {
		t.Fatal(err)
	}
	n2 := &proxmox.Node{}
	n2 = n2.New(c, "pve-s2")
	if _, err := n2.VirtualMachine(cx, 9001); err == nil {
		t.Error("offline node answered")
	}
	status, code, body := raw(t, s, "GET", "/nodes/pve-s2/qemu", goodToken, "")
	if code != 595 || body != "" || !strings.Contains(status, "No route to host") {
		t.Errorf("offline node: %q %q", status, body)
	}
	cl, err := c.Cluster(cx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range cl.Nodes {
		if n.Name == "pve-s2" && n.Online != 0 {
			t.Error("pve-s2 online in cluster status")
		}
	}

	clock := NewManualClock(time.Unix(1767225600, 0))
	s2, c2 := start(t, Options{Clock: clock})
	s2.InjectTaskFault(TaskFault{Type: "qmstart", Delay: 90 * time.Second})
	vm := &proxmox.VirtualMachine{}
	vm.New(c2, "pve-s1", 9000)
	if err := s2.Seed(Guest{VMID: 140, Kind: KindVM, Node: "pve-s1", Name: "foreign", Tags: "other"}); err != nil {
		t.Fatal(err)
	}
	vm.New(c2, "pve-s1", 140)
	task, err := vm.Start(cx)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(89 * time.Second)
	if _ = task.Ping(cx); task.IsCompleted {
		t.Error("delayed task finished early")
	}
	clock.Advance(time.Second)
	if _ = task.Ping(cx); !task.IsSuccessful {
		t.Errorf("delayed task after its delay: %+v", task)
	}
	before := s2.MutatingCalls()
	if _, err := c2.Nodes(cx); err != nil {
		t.Fatal(err)
	}
	if s2.MutatingCalls() != before || before != 1 {
		t.Errorf("MutatingCalls %d -> %d", before, s2.MutatingCalls())
	}
}

// TestResourceLag: /cluster/resources catches up after the lag while the
// guest's own endpoints are current at once.
func TestResourceLag(t *testing.T) {
	clock := NewManualClock(time.Unix(1767225600, 0))
	s, c := start(t, Options{Clock: clock, ResourceLag: 10 * time.Second})
	cx := ctx(t)
	node, _ := c.Node(cx, "pve-s1")
	tmpl, _ := node.VirtualMachine(cx, 9000)
	if _, _, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 105, Name: "web-1"}); err != nil {
		t.Fatal(err)
	}
	has := func() bool {
		cl, err := c.Cluster(cx)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := cl.Resources(cx, "vm")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.VMID == 105 {
				return true
			}
		}
		return false
	}
	if has() {
		t.Error("/cluster/resources shows the clone at once")
	}
	if vm, err := node.VirtualMachine(cx, 105); err != nil || vm.Name != "web-1" {
		t.Errorf("status/config of the clone: %v", err)
	}
	clock.Advance(9 * time.Second)
	if has() {
		t.Error("/cluster/resources shows the clone before the lag")
	}
	clock.Advance(time.Second)
	if !has() {
		t.Error("/cluster/resources does not show the clone after the lag")
	}
	_ = s
}

func TestSchemaRejections(t *testing.T) {
	for _, src := range []string{"pve", "builtin"} {
		t.Run(src, func(t *testing.T) {
			opts := Options{Schema: BuiltinSchema()}
			if src == "pve" {
				opts.Schema = loadPVESchema(t)
			}
			_, c := start(t, opts)
			cx := ctx(t)
			vm := &proxmox.VirtualMachine{}
			vm.New(c, "pve-s1", 9000)
			for _, tc := range []struct {
				name, key string
				value     any
				want      string
			}{
				{"dns name", "name", "bad_name", `{"name":"invalid format - value does not look like a valid DNS name"}`},
				{"plain ssh key", "sshkeys", testKey, `{"sshkeys":"invalid format - invalid urlencoded string: ` + testKey + `"}`},
				{"vlan tag", "net0", "virtio,bridge=vmbr0,tag=abc", `{"net0":"invalid format - format error\nnet0.tag: type check ('integer') failed - got 'abc'\n"}`},
				{"unknown key", "bogus", 1, `{"bogus":"property is not defined in schema and the schema does not allow additional properties"}`},
				{"cores", "cores", 0, `{"cores":"value must have a minimum value of 1"}`},
				{"ipconfig", "ipconfig0", "ip=10.0.0.300/24", `{"ipconfig0":"invalid format - format error\nipconfig0.ip: invalid format - value does not look like a valid ipv4 network configuration\n"}`},
			} {
				err := vm.ConfigSync(cx, proxmox.VirtualMachineOption{Name: tc.key, Value: tc.value})
				want := "bad request: 400 Parameter verification failed. - " + mustJSON(tc.want)
				if err == nil || err.Error() != want {
					t.Errorf("%s: %v\nwant %s", tc.name, err, want)
				}
			}
		})
	}
}

func mustJSON(s string) string {
	var v map[string]string
	if err := json.Unmarshal([]byte(strings.ReplaceAll(s, "\n", `\n`)), &v); err != nil {
		panic(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

var _ = errors.New
