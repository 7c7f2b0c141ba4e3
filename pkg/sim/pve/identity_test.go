package pve

import (
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
	"golang.org/x/crypto/ssh"
)

// taskLog reads a task's whole log in order.
func taskLog(t *testing.T, task *proxmox.Task) []string {
	t.Helper()
	log, err := task.Log(ctx(t), 0, 500)
	if err != nil {
		t.Fatalf("task log: %v", err)
	}
	out := make([]string, len(log))
	for i := range out {
		out[i] = log[i]
	}
	return out
}

// TestContainerCreateLogsHostKeysAndNestingWarning: vzcreate logs the
// fingerprint of the host key the container's disk holds, as
// pve-container does, and a systemd template created without nesting ends
// in WARNINGS with PVE's text; a container created again under the same
// VMID is another machine (another instance, another key).
func TestContainerCreateLogsHostKeysAndNestingWarning(t *testing.T) {
	s, c := start(t, Options{})
	cx := ctx(t)
	wait := waiter(t, cx)
	node, err := c.Node(cx, "pve-s1")
	if err != nil {
		t.Fatal(err)
	}
	create := func(features string) *proxmox.Task {
		opts := []proxmox.ContainerOption{
			{Name: "ostemplate", Value: DefaultCTTemplate},
			{Name: "hostname", Value: "ct-1.lab.example"},
			{Name: "rootfs", Value: "local-lvm:4"},
			{Name: "unprivileged", Value: 1},
		}
		if features != "" {
			opts = append(opts, proxmox.ContainerOption{Name: "features", Value: features})
		}
		return wait(node.NewContainer(cx, 150, opts...))
	}
	task := create("")
	if task.ExitStatus != "WARNINGS: 1" {
		t.Errorf("create without nesting ended %q, want WARNINGS: 1", task.ExitStatus)
	}
	log := taskLog(t, task)
	all := strings.Join(log, "\n")
	if !strings.Contains(all, "WARN: Systemd 252 detected. You may need to enable nesting.") || log[len(log)-1] != "TASK WARNINGS: 1" {
		t.Errorf("log lacks the nesting warning:\n%s", all)
	}
	g, ok := s.Guest(150)
	if !ok || g.Instance == "" || g.HostKey == nil {
		t.Fatalf("guest 150: %+v %v", g, ok)
	}
	signer, err := ssh.ParsePrivateKey(g.HostKey)
	if err != nil {
		t.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(signer.PublicKey())
	i := strings.Index(all, "Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ...\ndone: "+fp+" root@ct-1\n")
	if i < 0 {
		t.Errorf("log lacks the host key's fingerprint %s:\n%s", fp, all)
	}

	ct, err := node.Container(cx, 150)
	if err != nil {
		t.Fatal(err)
	}
	wait(ct.Delete(cx, nil))
	task = create("nesting=1")
	if task.ExitStatus != "OK" || strings.Contains(strings.Join(taskLog(t, task), "\n"), "nesting") {
		t.Errorf("create with nesting ended %q: %v", task.ExitStatus, taskLog(t, task))
	}
	again, _ := s.Guest(150)
	if again.Instance == g.Instance || string(again.HostKey) == string(g.HostKey) {
		t.Error("a container created again under the same VMID kept the old one's instance or host key")
	}
}

// TestSystemdNestingWarningByTemplate: the templates PVE warns about.
func TestSystemdNestingWarningByTemplate(t *testing.T) {
	for _, tc := range []struct {
		volid, features, want string
	}{
		{DefaultCTTemplate, "", "Systemd 252 detected. You may need to enable nesting."},
		{DefaultCTTemplate, "nesting=1", ""},
		{DefaultCTTemplate, "keyctl=1,nesting=1", ""},
		{"local:vztmpl/debian-11-standard_11.7-1_amd64.tar.zst", "", "Systemd 247 detected. You may need to enable nesting."},
		{"local:vztmpl/debian-10-standard_10.7-1_amd64.tar.gz", "", ""},
		{"local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst", "", "Systemd 255 detected. You may need to enable nesting."},
		{"local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz", "", ""},
	} {
		if got := nestingWarning(tc.volid, tc.features); got != tc.want {
			t.Errorf("nestingWarning(%s, %q) = %q, want %q", tc.volid, tc.features, got, tc.want)
		}
	}
}

// TestAgentFileReadsHostKey: a VM's guest agent reads its public host key,
// and a clone made again has another.
func TestAgentFileReadsHostKey(t *testing.T) {
	s, c := start(t, Options{})
	cx := ctx(t)
	wait := okWaiter(t, cx)
	tmpl := &proxmox.VirtualMachine{}
	tmpl.New(c, "pve-s1", 9000)
	_, task, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 201, Name: "vm-1", Full: proxmox.IntOrBool(true)})
	wait(task, err)
	vm := &proxmox.VirtualMachine{}
	vm.New(c, "pve-s1", 201)
	if _, err := vm.AgentFileRead(cx, "/etc/ssh/ssh_host_ed25519_key.pub"); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("file-read on a stopped VM: %v", err)
	}
	wait(vm.Config(cx, proxmox.VirtualMachineOption{Name: "agent", Value: "enabled=1"}))
	wait(vm.Start(cx))
	got, err := vm.AgentFileRead(cx, "/etc/ssh/ssh_host_ed25519_key.pub")
	if err != nil {
		t.Fatal(err)
	}
	g, _ := s.Guest(201)
	signer, err := ssh.ParsePrivateKey(g.HostKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(got.Content))
	if err != nil || ssh.FingerprintSHA256(pub) != ssh.FingerprintSHA256(signer.PublicKey()) {
		t.Errorf("file-read gave %q (%v), want the key of the guest's disk", got.Content, err)
	}
	if _, err := vm.AgentFileRead(cx, "/etc/nothing"); err == nil || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("file-read of a missing file: %v", err)
	}
}
