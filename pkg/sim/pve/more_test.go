package pve

import (
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

func TestCloneConflicts(t *testing.T) {
	s, c := start(t, Options{})
	cx := ctx(t)
	if err := s.Seed(Guest{VMID: 2101, Kind: KindCT, Node: "pve-s2", Name: "foreign", Tags: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	tmpl := &proxmox.VirtualMachine{}
	tmpl.New(c, "pve-s1", 9000)
	for _, tc := range []struct {
		opts *proxmox.VirtualMachineCloneOptions
		want string
	}{
		{&proxmox.VirtualMachineCloneOptions{NewID: 9002}, "500 unable to create VM 9002 - VM 9002 already exists on node 'pve-s3'"},
		{&proxmox.VirtualMachineCloneOptions{NewID: 2101}, "500 unable to create VM 2101 - CT 2101 already exists on node 'pve-s2'"},
		{&proxmox.VirtualMachineCloneOptions{NewID: 9002, Target: "pve-s3"}, "500 unable to create VM 9002: config file already exists"},
		{&proxmox.VirtualMachineCloneOptions{NewID: 150, Storage: "local-lvm"}, "500 parameter 'storage' not allowed for linked clones"},
		{&proxmox.VirtualMachineCloneOptions{NewID: 150, Full: true, Target: "pve-s2"}, "500 can't clone VM to node 'pve-s2' (VM uses local storage)"},
		{&proxmox.VirtualMachineCloneOptions{NewID: 150, Full: true, Storage: "local"}, "500 storage 'local' does not support vm images"},
		{&proxmox.VirtualMachineCloneOptions{NewID: 150, Name: "web_1"}, `bad request: 400 Parameter verification failed. - {"name":"invalid format - value does not look like a valid DNS name"}`},
	} {
		if _, _, err := tmpl.Clone(cx, tc.opts); err == nil || err.Error() != tc.want {
			t.Errorf("clone %+v: %v\nwant %s", tc.opts, err, tc.want)
		}
	}
	cl, err := c.Cluster(cx)
	if err != nil {
		t.Fatal(err)
	}
	if free, err := cl.CheckID(cx, 2101); err != nil || free {
		t.Errorf("CheckID(2101) = %v, %v; want taken", free, err)
	}
	if free, err := cl.CheckID(cx, 2102); err != nil || !free {
		t.Errorf("CheckID(2102) = %v, %v; want free", free, err)
	}
	if id, err := cl.NextID(cx); err != nil || id != 100 {
		t.Errorf("NextID = %d, %v", id, err)
	}
	// A linked clone of the template: the new disk sits on the base volume.
	_, task, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 151})
	okWaiter(t, cx)(task, err)
	g, _ := s.Guest(151)
	if !strings.HasPrefix(g.Config["scsi0"], "local-lvm:base-9000-disk-0/vm-151-disk-0,") || g.Name != "Copy-of-VM-debian-12-cloud" {
		t.Errorf("linked clone: name %q scsi0 %q", g.Name, g.Config["scsi0"])
	}
	tg, _ := s.Guest(9000)
	if propGet(g.Config["net0"], "virtio") == propGet(tg.Config["net0"], "virtio") {
		t.Errorf("clone kept the template's MAC: %s", g.Config["net0"])
	}
	rs, err := cl.Resources(cx, "vm")
	if err != nil {
		t.Fatal(err)
	}
	var foreign *proxmox.ClusterResource
	for _, r := range rs {
		if r.VMID == 2101 {
			foreign = r
		}
	}
	if foreign == nil || foreign.Type != "lxc" || foreign.Tags != "someone-else" || foreign.Node != "pve-s2" {
		t.Errorf("foreign guest in resources: %+v", foreign)
	}
}

// TestAgentBoot: the agent answers some time after the start, as on a
// real VM booting cloud-init.
func TestAgentBoot(t *testing.T) {
	clock := NewManualClock(time.Unix(1767225600, 0))
	s, c := start(t, Options{Clock: clock, Latency: Latency{AgentBoot: 20 * time.Second, Tasks: map[string]time.Duration{"qmstart": 2 * time.Second}, Scale: 0.5}})
	cx := ctx(t)
	node, _ := c.Node(cx, "pve-s1")
	tmpl, _ := node.VirtualMachine(cx, 9000)
	_, task, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 160})
	okWaiter(t, cx)(task, err)
	vm, err := node.VirtualMachine(cx, 160)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vm.AgentGetNetworkIFaces(cx); err == nil || err.Error() != "500 VM 160 is not running" {
		t.Errorf("agent of a stopped VM: %v", err)
	}
	task, err = vm.Start(cx)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second) // qmstart takes 2s * 0.5
	if err := task.Ping(cx); err != nil || !task.IsSuccessful {
		t.Fatalf("start: %+v %v", task, err)
	}
	if _, err := vm.AgentOsInfo(cx); err == nil || err.Error() != "500 QEMU guest agent is not running" {
		t.Errorf("agent before boot: %v", err)
	}
	clock.Advance(10 * time.Second)
	if err := s.SetAgentAddresses(160); err != nil {
		t.Fatal(err)
	}
	ifaces, err := vm.AgentGetNetworkIFaces(cx)
	if err != nil || len(ifaces) != 1 || len(ifaces[0].IPAddresses) != 1 || ifaces[0].IPAddresses[0].IPAddressType != "ipv6" {
		t.Errorf("agent still waiting for DHCP: %+v %v", ifaces, err)
	}
	if err := s.SetAgentAddresses(160, "10.0.30.40/24"); err != nil {
		t.Fatal(err)
	}
	ifaces, _ = vm.AgentGetNetworkIFaces(cx)
	if len(ifaces) != 1 || ifaces[0].IPAddresses[0].IPAddress != "10.0.30.40" {
		t.Errorf("agent with a DHCP lease: %+v", ifaces)
	}

	// go-proxmox's WaitForAgent retries only "QEMU guest agent is not
	// running", which a fault can serve for a number of polls.
	old := proxmox.DefaultWaitInterval
	proxmox.DefaultWaitInterval = time.Millisecond
	defer func() { proxmox.DefaultWaitInterval = old }()
	s.FailNext("GET", "/nodes/pve-s1/qemu/160/agent/get-osinfo", 3, 500, "QEMU guest agent is not running")
	if err := vm.WaitForAgent(cx, 10); err != nil {
		t.Errorf("WaitForAgent: %v", err)
	}
	if n := s.Count("GET", "/nodes/pve-s1/qemu/160/agent/get-osinfo"); n != 5 {
		t.Errorf("get-osinfo polled %d times, want 1 before boot + 3 failures + 1 answer", n)
	}
}

func TestNodesAndStorage(t *testing.T) {
	s, c := start(t, Options{})
	cx := ctx(t)
	nodes, err := c.Nodes(cx)
	if err != nil || len(nodes) != 3 {
		t.Fatalf("Nodes: %v %v", nodes, err)
	}
	if nodes[0].SSLFingerprint != s.Fingerprint() || nodes[0].Status != "online" || nodes[0].MaxCPU != 8 {
		t.Errorf("node row %+v", nodes[0])
	}
	node, err := c.Node(cx, "pve-s3")
	if err != nil || node.CPUInfo.CPUs != 8 || node.Memory.Total != 32<<30 || node.PVEVersion == "" {
		t.Errorf("Node: %+v %v", node, err)
	}
	st, err := node.Storage(cx, "local-lvm")
	if err != nil || st.Total != 400<<30 || st.Used != 2<<30+4<<20 || st.Type != "lvmthin" {
		t.Errorf("Storage: %+v %v", st, err)
	}
	vz, err := node.StorageVZTmpl(cx)
	if err != nil || vz.Name != "local" {
		t.Errorf("StorageVZTmpl: %+v %v", vz, err)
	}
	content, err := st.GetContent(cx)
	if err != nil || len(content) != 2 || content[0].Volid != "local-lvm:base-9002-disk-0" || content[0].VMID != 9002 {
		t.Errorf("GetContent: %+v %v", content, err)
	}
	vms, err := node.VirtualMachines(cx)
	if err != nil || len(vms) != 1 || !bool(vms[0].Template) || vms[0].VMID != 9002 {
		t.Errorf("VirtualMachines: %+v %v", vms, err)
	}
	if v, err := c.Version(cx); err != nil || v.Version != "9.1.1" {
		t.Errorf("Version: %+v %v", v, err)
	}
	perms, err := c.Permissions(cx, nil)
	if err != nil || !bool(perms["/"]["VM.Clone"]) {
		t.Errorf("Permissions: %v %v", perms, err)
	}
}

func TestSchemaPath(t *testing.T) {
	loadPVESchema(t)
	s, err := New(Options{SchemaPath: schemaFile})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.schema.String(); got != schemaFile {
		t.Errorf("schema %q", got)
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, o := range []Options{
		{Nodes: []NodeSpec{{Name: "bad_name"}}},
		{Nodes: []NodeSpec{{Name: "a"}, {Name: "a"}}},
		{Tokens: []Token{{ID: "no-realm", Secret: DefaultTokenSecret}}},
		{Tokens: []Token{{ID: DefaultTokenID, Secret: "not-a-uuid"}}},
		{VMTemplates: []VMTemplateSpec{{VMID: 9000, Node: "elsewhere"}}},
		{CTTemplates: []string{"debian.tar.zst"}},
		{SchemaPath: "does-not-exist.json"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
