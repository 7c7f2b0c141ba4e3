package pve

import (
	"maps"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

const (
	opID     = "homelab@pve!op"
	opSecret = "3c9e7a51-2f4d-4b8a-8e6c-0d1f2a3b4c5d"
)

// opPrivileges is a least-privilege token that can clone and configure
// VMs and create containers but has no SDN.Use and neither
// VM.Config.Cloudinit nor VM.Config.Network.
func opPrivileges() map[string][]string {
	return map[string][]string{
		"/vms": {"VM.Audit", "VM.Allocate", "VM.Clone", "VM.Config.CPU", "VM.Config.Memory",
			"VM.Config.Disk", "VM.Config.Options", "VM.PowerMgmt"},
		"/storage": {"Datastore.AllocateSpace", "Datastore.Audit"},
	}
}

func opToken() string { return opID + "=" + opSecret }

// TestPrivilegesSDNUse: attaching a NIC needs SDN.Use on the bridge, or
// on the VLAN when tagged (a grant on the bridge propagates to its
// VLANs), on clone (the source's NICs), VM config and CT create; PVE's
// 403 names the path.
func TestPrivilegesSDNUse(t *testing.T) {
	grant := opPrivileges()
	grant["/vms"] = append(grant["/vms"], "VM.Config.Network")
	s, _ := start(t, Options{Tokens: []Token{{ID: opID, Secret: opSecret, Privileges: grant}}})
	cx := ctx(t)
	op := client(s, opID, opSecret)
	node := (&proxmox.Node{}).New(op, "pve-s1")
	tmpl, err := node.VirtualMachine(cx, 9000)
	if err != nil {
		t.Fatalf("read the template: %v", err)
	}
	if _, _, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 150, Full: true, Storage: "local-lvm"}); !proxmox.IsNotAuthorized(err) {
		t.Fatalf("clone of a template on vmbr0 without SDN.Use: %v, want not authorized", err)
	}
	status, _, _ := raw(t, s, "POST", "/nodes/pve-s1/qemu/9000/clone", opToken(), `{"newid":150,"full":1,"storage":"local-lvm"}`)
	if status != "403 Permission check failed (/sdn/zones/localnetwork/vmbr0, SDN.Use)" {
		t.Errorf("clone without SDN.Use: %q", status)
	}
	if _, ok := s.Guest(150); ok {
		t.Fatal("a refused clone left a guest")
	}
	grant["/sdn/zones/localnetwork/vmbr0"] = []string{"SDN.Use"}
	if err := s.SetPrivileges(opID, grant); err != nil {
		t.Fatal(err)
	}
	okWaiter(t, cx)(func() (*proxmox.Task, error) {
		_, task, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 150, Full: true, Storage: "local-lvm"})
		return task, err
	}())
	for _, tc := range []struct{ body, want string }{
		{`{"net0":"virtio,bridge=vmbr1,tag=20"}`, "403 Permission check failed (/sdn/zones/localnetwork/vmbr1/20, SDN.Use)"},
		{`{"net0":"virtio,bridge=vmbr1"}`, "403 Permission check failed (/sdn/zones/localnetwork/vmbr1, SDN.Use)"},
		{`{"net0":"virtio,bridge=vmbr1,trunks=30;31"}`, "403 Permission check failed (/sdn/zones/localnetwork/vmbr1/30, SDN.Use)"},
		{`{"net0":"virtio,bridge=vmbr0,tag=20"}`, "200 OK"}, // the bridge's grant propagates to its VLANs
	} {
		if status, _, _ := raw(t, s, "PUT", "/nodes/pve-s1/qemu/150/config", opToken(), tc.body); status != tc.want {
			t.Errorf("config %s: %q, want %q", tc.body, status, tc.want)
		}
	}
	vm, err := node.VirtualMachine(cx, 150)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.ConfigSync(cx, proxmox.VirtualMachineOption{Name: "net0", Value: "virtio,bridge=vmbr1,tag=20"}); !proxmox.IsNotAuthorized(err) {
		t.Errorf("go-proxmox ConfigSync onto vmbr1 without SDN.Use: %v", err)
	}
	ct := `{"vmid":160,"ostemplate":"` + DefaultCTTemplate + `","rootfs":"local-lvm:4","net0":"name=eth0,bridge=vmbr1,tag=30,ip=dhcp"}`
	if status, _, _ := raw(t, s, "POST", "/nodes/pve-s1/lxc", opToken(), ct); status != "403 Permission check failed (/sdn/zones/localnetwork/vmbr1/30, SDN.Use)" {
		t.Errorf("CT create onto vmbr1 without SDN.Use: %q", status)
	}
	grant["/sdn/zones/localnetwork/vmbr1/30"] = []string{"SDN.Use"}
	if err := s.SetPrivileges(opID, grant); err != nil {
		t.Fatal(err)
	}
	if status, _, body := raw(t, s, "POST", "/nodes/pve-s1/lxc", opToken(), ct); !strings.HasPrefix(status, "200") {
		t.Errorf("CT create with SDN.Use on the VLAN: %q %s", status, body)
	}
}

// TestPrivilegesCloudinit: cloud-init keys need VM.Config.Cloudinit (or,
// as Qemu.pm accepts, VM.Config.Network); startup needs Sys.Modify on /;
// creating a CT or VM without VM.Allocate is PVE's bare 403.
func TestPrivilegesCloudinit(t *testing.T) {
	s, c := start(t, Options{Tokens: []Token{
		{ID: DefaultTokenID, Secret: DefaultTokenSecret},
		{ID: opID, Secret: opSecret, Privileges: opPrivileges()},
	}})
	cx := ctx(t)
	node, _ := c.Node(cx, "pve-s1")
	tmpl, _ := node.VirtualMachine(cx, 9000)
	okWaiter(t, cx)(func() (*proxmox.Task, error) {
		_, task, err := tmpl.Clone(cx, &proxmox.VirtualMachineCloneOptions{NewID: 150, Full: true})
		return task, err
	}())
	for _, key := range []string{"ciuser", "sshkeys", "ipconfig0", "nameserver", "searchdomain", "ciupgrade", "citype", "cipassword"} {
		body := map[string]string{"ciuser": `"debian"`, "sshkeys": `"ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIHhJ3TjO8Ye0y8bT2mtqcaGr2L1JcAMfJp2ZNQ3ZbWbO"`,
			"ipconfig0": `"ip=dhcp"`, "nameserver": `"10.0.0.1"`, "searchdomain": `"lab"`, "ciupgrade": "0",
			"citype": `"nocloud"`, "cipassword": `"x"`}[key]
		status, _, _ := raw(t, s, "PUT", "/nodes/pve-s1/qemu/150/config", opToken(), `{"`+key+`":`+body+`}`)
		if want := "403 Permission check failed (/vms/150, VM.Config.Cloudinit|VM.Config.Network)"; status != want {
			t.Errorf("%s without VM.Config.Cloudinit: %q, want %q", key, status, want)
		}
	}
	op := client(s, opID, opSecret)
	vm, err := (&proxmox.Node{}).New(op, "pve-s1").VirtualMachine(cx, 150)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.ConfigSync(cx, proxmox.VirtualMachineOption{Name: "ciuser", Value: "debian"}); !proxmox.IsNotAuthorized(err) {
		t.Errorf("go-proxmox ConfigSync of ciuser without VM.Config.Cloudinit: %v", err)
	}
	if status, _, _ := raw(t, s, "PUT", "/nodes/pve-s1/qemu/150/config", opToken(), `{"startup":"order=1"}`); status != "403 Permission check failed (/, Sys.Modify)" {
		t.Errorf("startup without Sys.Modify on /: %q", status)
	}
	grant := opPrivileges()
	grant["/vms"] = append(grant["/vms"], "VM.Config.Cloudinit")
	if err := s.SetPrivileges(opID, grant); err != nil {
		t.Fatal(err)
	}
	if err := vm.ConfigSync(cx, proxmox.VirtualMachineOption{Name: "ciuser", Value: "debian"}); err != nil {
		t.Errorf("ciuser with VM.Config.Cloudinit: %v", err)
	}
	grant["/vms"] = []string{"VM.Audit"}
	grant["/vms/150"] = []string{"VM.Config.Cloudinit"}
	if err := s.SetPrivileges(opID, grant); err != nil {
		t.Fatal(err)
	}
	// The entry on /vms/150 replaces /vms's for the guest, as in PVE.
	if status, _, _ := raw(t, s, "GET", "/nodes/pve-s1/qemu/150/config", opToken(), ""); status != "403 Permission check failed (/vms/150, VM.Audit)" {
		t.Errorf("VM.Audit on /vms hidden by /vms/150's entry: %q", status)
	}
	// Lists hold only what the token may audit: no 403, fewer rows.
	_, _, body := raw(t, s, "GET", "/cluster/resources?type=vm", opToken(), "")
	if strings.Contains(body, `"vmid":150`) || !strings.Contains(body, `"vmid":9000`) {
		t.Errorf("cluster resources without VM.Audit on 150: %s", body)
	}
	ct := `{"vmid":160,"ostemplate":"` + DefaultCTTemplate + `","rootfs":"local-lvm:4"}`
	if status, _, _ := raw(t, s, "POST", "/nodes/pve-s1/lxc", opToken(), ct); status != "403 Permission check failed" {
		t.Errorf("CT create without VM.Allocate: %q", status)
	}
}

// TestAccessPermissions: GET /access/permissions answers the caller's
// effective privileges per path (1: propagates, 0: this path only), for
// one path with path=, and another token's only with Sys.Audit on /access.
func TestAccessPermissions(t *testing.T) {
	privs := map[string][]string{
		"/vms":                          {"VM.Audit", "VM.Allocate"},
		"/vms/150":                      {"VM.Clone"},
		"/storage/local-lvm":            {"Datastore.AllocateSpace"},
		"/sdn/zones/localnetwork/vmbr0": {"SDN.Use"},
	}
	s, c := start(t, Options{Tokens: []Token{
		{ID: DefaultTokenID, Secret: DefaultTokenSecret},
		{ID: opID, Secret: opSecret, Privileges: privs, NoPropagate: []string{"/storage/local-lvm"}},
	}})
	cx := ctx(t)
	op := client(s, opID, opSecret)
	perms, err := op.Permissions(cx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := proxmox.Permissions{
		"/vms":                          {"VM.Audit": true, "VM.Allocate": true},
		"/vms/150":                      {"VM.Clone": true},
		"/storage/local-lvm":            {"Datastore.AllocateSpace": false},
		"/sdn/zones/localnetwork/vmbr0": {"SDN.Use": true},
	}
	if !equalPerms(perms, want) {
		t.Errorf("permissions: %v, want %v", perms, want)
	}
	_, _, body := raw(t, s, "GET", "/access/permissions?path=/storage/local-lvm", opToken(), "")
	if body != `{"data":{"/storage/local-lvm":{"Datastore.AllocateSpace":0}}}` {
		t.Errorf("path=/storage/local-lvm: %s", body)
	}
	for path, want := range map[string]proxmox.Permissions{
		"/vms/200":                         {"/vms/200": {"VM.Audit": true, "VM.Allocate": true}},
		"/storage/local-lvm/x":             {"/storage/local-lvm/x": {}},
		"/sdn/zones/localnetwork/vmbr0/20": {"/sdn/zones/localnetwork/vmbr0/20": {"SDN.Use": true}},
	} {
		got, err := op.Permissions(cx, &proxmox.PermissionsOptions{Path: path})
		if err != nil || !equalPerms(got, want) {
			t.Errorf("path=%s: %v %v, want %v", path, got, err, want)
		}
	}
	if _, err := op.Permissions(cx, &proxmox.PermissionsOptions{UserID: DefaultTokenID}); !proxmox.IsNotAuthorized(err) {
		t.Errorf("another token's permissions without Sys.Audit on /access: %v", err)
	}
	status, _, _ := raw(t, s, "GET", "/access/permissions?userid=root@pam!homelab", opToken(), "")
	if status != "403 Permission check failed (/access, Sys.Audit)" {
		t.Errorf("userid of another token: %q", status)
	}
	mine, err := op.Permissions(cx, &proxmox.PermissionsOptions{UserID: opID, Path: "/vms"})
	if err != nil || !equalPerms(mine, proxmox.Permissions{"/vms": {"VM.Audit": true, "VM.Allocate": true}}) {
		t.Errorf("userid of the caller: %v %v", mine, err)
	}
	other, err := c.Permissions(cx, &proxmox.PermissionsOptions{UserID: opID, Path: "/vms/150"})
	if err != nil || !equalPerms(other, proxmox.Permissions{"/vms/150": {"VM.Clone": true}}) {
		t.Errorf("root reading the op token's /vms/150: %v %v", other, err)
	}
	all, err := c.Permissions(cx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/vms", "/storage", "/sdn", "/nodes", "/access", "/vms/150"} {
		if !all[p]["VM.Allocate"] || !all[p]["SDN.Use"] {
			t.Errorf("root@pam token at %s: %v", p, all[p])
		}
	}
}

func equalPerms(a, b proxmox.Permissions) bool {
	return maps.EqualFunc(a, b, func(x, y proxmox.Permission) bool { return maps.Equal(x, y) })
}

// TestFailedAuthenticationDelay: an unauthorized request is answered
// only after Options.AuthFailureDelay, a good one at once; zero (unit
// tests) answers at once.
func TestFailedAuthenticationDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	s, _ := start(t, Options{AuthFailureDelay: delay})
	for _, token := range []string{DefaultTokenID + "=" + NewTokenSecret(), "", "root@pam!nobody=" + DefaultTokenSecret} {
		t0 := time.Now()
		status, _, _ := raw(t, s, "GET", "/version", token, "")
		if took := time.Since(t0); !strings.HasPrefix(status, "401") || took < delay {
			t.Errorf("token %q: %q after %s, want a 401 after %s", token, status, took, delay)
		}
	}
	t0 := time.Now()
	if status, _, _ := raw(t, s, "GET", "/version", goodToken, ""); status != "200 OK" || time.Since(t0) >= delay {
		t.Errorf("good token: %q after %s", status, time.Since(t0))
	}
	fast, _ := start(t, Options{})
	t0 = time.Now()
	if status, _, _ := raw(t, fast, "GET", "/version", DefaultTokenID+"=bad", ""); !strings.HasPrefix(status, "401") || time.Since(t0) >= delay {
		t.Errorf("no delay configured: %q after %s", status, time.Since(t0))
	}
}

// TestTokenSecretsAreUUIDs: PVE makes token secrets as UUIDs; so does
// NewTokenSecret, and the simulator refuses a token that is not one.
func TestTokenSecretsAreUUIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		sec := NewTokenSecret()
		if !reTokenSecret.MatchString(sec) || sec[14] != '4' || seen[sec] {
			t.Fatalf("NewTokenSecret() = %q", sec)
		}
		seen[sec] = true
	}
	if _, err := New(Options{Tokens: []Token{{ID: opID, Secret: "5e1f6a3c0d6b4c579a437f1d2c8b9e01"}}}); err == nil {
		t.Error("a secret without dashes was accepted")
	}
}
