package inventory

import (
	"os"
	"strings"
	"testing"
)

// withBase is inventories/testdata/base.yaml with its guests and defaults
// replaced by the given YAML blocks.
func withBase(t *testing.T, defaults, guests string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../inventories/testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	d0, d1 := strings.Index(s, "defaults:\n"), strings.Index(s, "loadbalancer:\n")
	if d0 < 0 || d1 < 0 {
		t.Fatal("base.yaml changed shape")
	}
	return []byte(s[:d0] + defaults + guests + s[d1:])
}

const baseDefaults = `defaults:
  vm: { template: debian, cores: 2, memory: 2048, disk: 20 }
  lxc: { template: debian-ct, cores: 1, memory: 512, disk: 8 }
`

const baseGuests = `guests:
  - { name: lb-1, kind: vm, node: pve-1, vmid: 101, network: lab, ip: 10.0.10.11, roles: [loadbalancer] }
  - { name: lb-2, kind: vm, node: pve-2, vmid: 102, network: lab, ip: 10.0.10.12, roles: [loadbalancer] }
  - { name: master-1, kind: vm, node: pve-1, vmid: 111, network: lab, ip: 10.0.10.21, roles: [control-plane] }
  - { name: worker-1, kind: vm, node: pve-2, vmid: 121, network: lab, ip: 10.0.10.31, roles: [worker] }
  - { name: vault-1, kind: lxc, node: pve-1, vmid: 131, network: lab, ip: 10.0.10.41, roles: [vault] }
`

func TestStartupOrderByRole(t *testing.T) {
	inv, _, err := Parse("base.yaml", withBase(t, baseDefaults, baseGuests+
		`  - { name: both, kind: lxc, node: pve-2, vmid: 132, network: lab, ip: 10.0.10.42, roles: [vault, consul] }
  - { name: misc, kind: lxc, node: pve-2, vmid: 133, network: lab, ip: 10.0.10.43, roles: [dns] }
  - { name: lbw, kind: vm, node: pve-2, vmid: 134, network: lab, ip: 10.0.10.44, roles: [worker, loadbalancer] }
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"lb-1": 30, "master-1": 40, "worker-1": 50, "vault-1": 20, "both": 10, "misc": 60, "lbw": 30} {
		g, _ := inv.Guest(name)
		if g.Startup == nil || *g.Startup != (Startup{Order: want}) || g.OnBoot == nil || !*g.OnBoot {
			t.Errorf("%s: startup %+v onboot %v, want order %d and onboot", name, g.Startup, g.OnBoot, want)
		}
	}
}

func TestStartupOrderFollowsTheInventorysRoles(t *testing.T) {
	inv := &Inventory{
		LoadBalancer: &LoadBalancer{Role: "haproxy"},
		Kubernetes:   &Kubernetes{ControlPlaneRole: "master", WorkerRole: "node"},
	}
	for roles, want := range map[string]int{"haproxy": 30, "master": 40, "node": 50, "loadbalancer": 60, "worker": 60, "": 60} {
		g := &Guest{Roles: strings.Fields(roles)}
		if got := inv.StartupOrder(g); got != want {
			t.Errorf("roles %q: %d, want %d", roles, got, want)
		}
	}
}

func TestOnbootAndStartupOverrides(t *testing.T) {
	defaults := `defaults:
  vm: { template: debian, cores: 2, memory: 2048, disk: 20, startup: { up: 30, down: 120 } }
  lxc: { template: debian-ct, cores: 1, memory: 512, disk: 8, onboot: false, startup: { order: 7 } }
`
	guests := strings.Replace(baseGuests, "roles: [control-plane] }", "roles: [control-plane], startup: { order: 5, down: 60 } }", 1)
	guests = strings.Replace(guests, "roles: [worker] }", "roles: [worker], onboot: false }", 1)
	guests = strings.Replace(guests, "roles: [vault] }", "roles: [vault], onboot: true }", 1)
	inv, _, err := Parse("base.yaml", withBase(t, defaults, guests))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		onboot  bool
		startup Startup
	}{
		{"lb-1", true, Startup{Order: 30, Up: 30, Down: 120}},
		{"master-1", true, Startup{Order: 5, Up: 30, Down: 60}},
		{"worker-1", false, Startup{Order: 50, Up: 30, Down: 120}},
		{"vault-1", true, Startup{Order: 7}},
	} {
		g, _ := inv.Guest(tc.name)
		if *g.OnBoot != tc.onboot || *g.Startup != tc.startup {
			t.Errorf("%s: onboot %v startup %+v, want %v %+v", tc.name, *g.OnBoot, *g.Startup, tc.onboot, tc.startup)
		}
	}
	// Guests do not share their defaults' values.
	lb1, _ := inv.Guest("lb-1")
	lb2, _ := inv.Guest("lb-2")
	if lb1.Startup == lb2.Startup || lb1.OnBoot == lb2.OnBoot {
		t.Error("two guests share one startup or onboot value")
	}
}

func TestStartupValidation(t *testing.T) {
	for _, tc := range []struct {
		name             string
		defaults, guests string
		want             []string
	}{
		{"negative order on a guest", baseDefaults,
			strings.Replace(baseGuests, "roles: [worker] }", "roles: [worker], startup: { order: -1 } }", 1),
			[]string{`base.yaml:42:122: guests[3].startup.order: -1 is negative: order is a place in the node's boot sequence (0 or absent: by role), 0 or more`}},
		{"negative delays in defaults", strings.Replace(baseDefaults, "disk: 8 }", "disk: 8, startup: { up: -5, down: -1 } }", 1), baseGuests,
			[]string{
				`base.yaml:37:78: defaults.lxc.startup.up: -5 is negative: up is seconds, 0 or more`,
				`base.yaml:37:88: defaults.lxc.startup.down: -1 is negative: down is seconds, 0 or more`,
			}},
		{"onboot not a boolean", baseDefaults,
			strings.Replace(baseGuests, "roles: [worker] }", "roles: [worker], onboot: yes please }", 1),
			[]string{`base.yaml:42:112: guests[3].onboot: expected true or false, got "yes please"`}},
		{"startup as a string", baseDefaults,
			strings.Replace(baseGuests, "roles: [worker] }", "roles: [worker], startup: order=1 }", 1),
			[]string{`base.yaml:42:113: guests[3].startup: expected a mapping of keys to values, got "order=1"`}},
		{"unknown startup key", baseDefaults,
			strings.Replace(baseGuests, "roles: [worker] }", "roles: [worker], startup: { delay: 1 } }", 1),
			[]string{`base.yaml:42:115: guests[3].startup.delay: unknown field "delay"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags, err := Parse("base.yaml", withBase(t, tc.defaults, tc.guests))
			if err == nil {
				t.Fatal("no error")
			}
			var got []string
			for _, d := range diags.Errors() {
				got = append(got, d.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestVMTemplateAgent(t *testing.T) {
	raw := withBase(t, baseDefaults, baseGuests)
	raw = []byte(strings.Replace(string(raw), "{ name: debian, vmid: 9001, node: pve-1 }", "{ name: debian, vmid: 9001, node: pve-1, agent: true }", 1))
	inv, _, err := Parse("base.yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	if t1, _ := inv.VMTemplate("debian", "pve-1"); !t1.Agent {
		t.Error("agent: true not read")
	}
	if t2, _ := inv.VMTemplate("debian", "pve-2"); t2.Agent {
		t.Error("agent defaults to true")
	}
}
