package inventory

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withKey makes a home directory holding ~/.ssh/id_ed25519.pub, the key
// the example inventories name, and returns the key's line.
func withKey(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	line := testKey(t, "me@laptop")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519.pub"), []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return line
}

func TestExampleInventoriesLoadClean(t *testing.T) {
	withKey(t)
	for _, name := range []string{"rachuna-net", "small"} {
		inv, diags, err := Load("../../inventories/" + name + ".yaml")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(diags) != 0 {
			t.Errorf("%s: diagnostics %v", name, diags)
		}
		if inv.Name != name || !strings.HasPrefix(inv.Source.Digest, "sha256:") {
			t.Errorf("%s: name %q digest %q", name, inv.Name, inv.Source.Digest)
		}
	}
}

func TestReferenceLabShape(t *testing.T) {
	inv, _, err := Load("../../inventories/rachuna-net.yaml")
	if err != nil {
		t.Fatal(err)
	}
	count := func(role string) map[string]int {
		perNode := map[string]int{}
		for _, g := range inv.GuestsWithRole(role) {
			perNode[g.Node]++
		}
		return perNode
	}
	for role, want := range map[string]int{"loadbalancer": 1, "control-plane": 1, "worker": 2, "consul": 1, "vault": 1} {
		for _, node := range []string{"pve-s1", "pve-s2", "pve-s3"} {
			if got := count(role)[node]; got != want {
				t.Errorf("%s on %s: %d, want %d", role, node, got, want)
			}
		}
	}
	for _, name := range []string{"ct01005", "ct01006", "ct01007"} {
		if g, ok := inv.Guest(name); !ok || g.Kind != KindLXC {
			t.Errorf("%s is not an LXC container", name)
		}
	}
	n, _ := inv.Network("vms-internal")
	if n.VLAN != 10 || strings.Join(n.TrunkPorts, ",") != "ether2,ether3,ether4" {
		t.Errorf("vms-internal: %+v", n)
	}
	if n, _ := inv.Network("vms-dmz"); n.VLAN != 20 {
		t.Errorf("vms-dmz: VLAN %d", n.VLAN)
	}
}

func TestDefaultsAndDerivedValues(t *testing.T) {
	inv, _, err := Load("../../inventories/testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lb1, _ := inv.Guest("lb-1")
	lb2, _ := inv.Guest("lb-2")
	ct, _ := inv.Guest("vault-1")
	checks := []struct {
		what      string
		got, want any
	}{
		{"parallel_per_node", inv.Proxmox.ParallelPerNode, 2},
		{"vlan_mode", inv.Router.VLANMode, "interfaces"},
		{"router_bridge", inv.Networks[0].RouterBridge, "br-lab"},
		{"lease_time", inv.Networks[0].DHCP.LeaseTime, "1d"},
		{"tagged", *inv.Networks[0].Proxmox.Tagged, true},
		{"vm template", lb1.Template, "debian"},
		{"vm cores", lb1.Cores, 2},
		{"lxc template", ct.Template, "debian-ct"},
		{"lxc memory", ct.Memory, 512},
		{"storage", lb1.Storage, "local-lvm"},
		{"ssh user", lb1.SSH.User, "root"},
		{"ssh port", lb1.SSH.Port, 22},
		{"priority 1", lb1.Priority, 150},
		{"priority 2", lb2.Priority, 140},
		{"lb role", inv.LoadBalancer.Role, "loadbalancer"},
		{"check expect", inv.LoadBalancer.Frontends[0].Check.Expect, 200},
		{"stats port", inv.LoadBalancer.Stats.Port, 8404},
		{"pin", inv.Kubernetes.Pin, "hosts"},
		{"kubeconfig", inv.Kubernetes.Kubeconfig, "~/.kube/base.conf"},
		{"control plane role", inv.Kubernetes.ControlPlaneRole, "control-plane"},
		{"mac derived", lb1.MACDerived, true},
		{"mac", lb1.MAC, DeriveMAC("base", "lb-1")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestDerivedMACs(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"lb-1", "lb-2", "lb-3", "master-1", "worker-1", "ct01005"} {
		mac := DeriveMAC("rachuna-net", name)
		hw, err := net.ParseMAC(mac)
		if err != nil || len(hw) != 6 {
			t.Fatalf("%s: %q", name, mac)
		}
		if hw[0]&0x02 == 0 || hw[0]&0x01 != 0 {
			t.Errorf("%s: %s is not locally administered unicast", name, mac)
		}
		if other, dup := seen[mac]; dup {
			t.Errorf("%s and %s share %s", name, other, mac)
		}
		seen[mac] = name
		if DeriveMAC("rachuna-net", name) != mac {
			t.Errorf("%s: not stable", name)
		}
	}
	if DeriveMAC("lab-a", "lb-1") == DeriveMAC("lab-b", "lb-1") {
		t.Error("two labs give a guest of the same name the same MAC")
	}
}

func TestWarningsDoNotFail(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"even-control-planes", "../../inventories/testdata/warnings/even-control-planes.yaml:50:3: kubernetes.control_plane_role: warning: 2 control planes: etcd tolerates no more failures with 2 members than with 1; use an odd number"},
		{"kubernetes-end-of-life", "../../inventories/testdata/warnings/kubernetes-end-of-life.yaml:51:12: kubernetes.version: warning: Kubernetes 1.34 reached its upstream end of life on 2026-10-27 and gets no more security fixes; move to 1.37"},
	} {
		inv, diags, err := Load("../../inventories/testdata/warnings/" + tc.file + ".yaml")
		if err != nil || inv == nil {
			t.Fatalf("%s: err %v", tc.file, err)
		}
		if len(diags.Warnings()) != 1 || diags.Warnings()[0].String() != tc.want {
			t.Errorf("%s: warnings %v", tc.file, diags.Warnings())
		}
	}
}

// TestKubernetesVersionWithV: kubernetes.version v1.35.4 is the release
// 1.35.4, accepted as it is (issue 16: one parser refused it).
func TestKubernetesVersionWithV(t *testing.T) {
	base, err := os.ReadFile("../../inventories/testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data := strings.Replace(string(base), "  version: 1.35.4\n", "  version: v1.35.4\n", 1)
	if data == string(base) {
		t.Fatal("base.yaml has no version: 1.35.4")
	}
	if _, diags, err := Parse("x.yaml", []byte(data)); err != nil || len(diags) != 0 {
		t.Fatalf("v1.35.4: %v %v", err, diags)
	}
}

func TestDecoderErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"empty", "", "x.yaml:1:1: (document): the inventory is empty"},
		{"not a mapping", "- a\n", "x.yaml:1:1: : expected a mapping of keys to values, got a list"},
		{"bad yaml", "name: [\n", "x.yaml:1:1: (document): yaml: line 1: did not find expected node content"},
		{"duplicate key", "name: a\nname: b\n", `x.yaml:2:1: name: "name" is given twice (first at line 1)`},
		{"alias", "name: &n a\ndescription: *n\n", "x.yaml:2:14: description: aliases (*n) are not supported in inventories: write the value out"},
		{"merge key", "proxmox:\n  <<: {storage: x}\n", "x.yaml:2:3: proxmox.<<: merge keys (<<) are not supported in inventories: write the values out"},
		{"list for a string", "name: [a]\n", "x.yaml:1:7: name: expected a string, got a list"},
		{"bool", "proxmox:\n  tls: {insecure: yes-please}\n", `x.yaml:2:19: proxmox.tls.insecure: expected true or false, got "yes-please"`},
		{"ip", "networks:\n  - gateway: 10.0.0.300\n", `x.yaml:2:14: networks[0].gateway: "10.0.0.300" is not an IP address`},
		{"cidr", "networks:\n  - cidr: 10.0.0.0\n", `x.yaml:2:11: networks[0].cidr: "10.0.0.0" is not a CIDR such as 10.0.0.0/24`},
		{"float for int", "proxmox:\n  parallel_per_node: 1.5\n", `x.yaml:2:22: proxmox.parallel_per_node: expected a whole number, got "1.5"`},
		{"huge int", "proxmox:\n  parallel_per_node: 99999999999999\n", `x.yaml:2:22: proxmox.parallel_per_node: 99999999999999 is out of range`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags, err := Parse("x.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if got := diags.Errors()[0].String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// Every problem is reported, not only the first.
func TestAllProblemsAreCollected(t *testing.T) {
	_, diags, err := Parse("x.yaml", []byte("name: x\nbogus: 1\nproxmox:\n  nodez: []\n  storage: [a]\n"))
	if err == nil || len(diags.Errors()) != 3 {
		t.Fatalf("want 3 errors, got %v", diags)
	}
}

func TestCheckSecrets(t *testing.T) {
	inv, _, err := Load("../../inventories/testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "vrrp")
	env := map[string]string{"PVE_TOKEN": "pve-secret-value", "ROUTER_PASSWORD": "router-secret-value", "VRRP_PASSWORD": "k33pal1v"}
	r := Resolver{LookupEnv: func(n string) (string, bool) { v, ok := env[n]; return v, ok }}
	if err := inv.CheckSecrets(r); err != nil {
		t.Fatalf("all set: %v", err)
	}

	env["VRRP_PASSWORD"] = "much-too-long"
	delete(env, "PVE_TOKEN")
	err = inv.CheckSecrets(r)
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Diagnostics) != 2 {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"../../inventories/testdata/base.yaml:9:17: proxmox.token_secret: secret env:PVE_TOKEN: environment variable PVE_TOKEN is not set",
		"../../inventories/testdata/base.yaml:45:18: loadbalancer.vrrp_password: env:VRRP_PASSWORD: the VRRP password is 13 characters; it must be 1 to 8, as keepalived silently truncates auth_pass to 8",
	}
	for i, d := range verr.Diagnostics {
		if d.String() != want[i] {
			t.Errorf("got  %s\nwant %s", d, want[i])
		}
	}
	for _, secret := range env {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows a secret value")
		}
	}

	// keepalived starts a comment at "#" or "!", even mid-word.
	env["PVE_TOKEN"], env["VRRP_PASSWORD"] = "pve-secret-value", "ab#cd"
	if err := inv.CheckSecrets(r); err == nil || !strings.Contains(err.Error(), "a character keepalived would misread") || strings.Contains(err.Error(), "ab#cd") {
		t.Errorf("a VRRP password with #: %v", err)
	}

	// file: references read the file, and name it when it is missing.
	if err := os.WriteFile(keyFile, []byte("p4ss\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := (Resolver{}).Resolve(SecretRef("file:" + keyFile)); err != nil || v != "p4ss" {
		t.Errorf("file ref: %q %v", v, err)
	}
	if _, err := (Resolver{}).Resolve(SecretRef("file:" + keyFile + ".missing")); err == nil || !strings.Contains(err.Error(), "vrrp.missing") {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParse: no input makes the loader panic, and a failed load always
// says why with a position.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../../inventories/*.yaml", "../../inventories/testdata/*.yaml", "../../inventories/testdata/*/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("guests: [{name: &a x, kind: *a}]\n"))
	f.Add([]byte("a: !!binary aGVsbG8=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, diags, err := Parse("fuzz.yaml", data)
		if err != nil {
			if len(diags.Errors()) == 0 {
				t.Fatalf("error without diagnostics: %v", err)
			}
			for _, d := range diags.Errors() {
				if d.Pos.Line < 1 || d.Message == "" {
					t.Fatalf("diagnostic without a position or message: %+v", d)
				}
			}
			return
		}
		if inv == nil {
			t.Fatal("no error and no inventory")
		}
	})
}
