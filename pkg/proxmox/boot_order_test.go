package proxmox

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	pve "github.com/luthermonson/go-proxmox"
	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/inventory"
	simpve "github.com/homelabctl/homelab/pkg/sim/pve"
	"github.com/homelabctl/homelab/pkg/step"
)

// simClient runs a PVE simulator whose VM template 9000 has the agent
// option off, and returns it with homelab's client on it.
func simClient(t *testing.T) (*simpve.Server, *Client) {
	t.Helper()
	srv, err := simpve.New(simpve.Options{NoTemplates: true, VMTemplates: []simpve.VMTemplateSpec{
		{VMID: 9000, Node: "pve-s1", Name: "debian-12-cloud", Config: map[string]string{"agent": "0"}},
	}, CTTemplates: []string{simpve.DefaultCTTemplate}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c := NewClient(pve.NewClient(srv.URL(), pve.WithHTTPClient(srv.HTTPClient()), pve.WithAPIToken(simpve.DefaultTokenID, simpve.DefaultTokenSecret)))
	c.TaskPoll = time.Millisecond
	return srv, c
}

func realKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " ops@homelab"
}

func testSpec(t *testing.T, kind string, vmid int) Spec {
	s := Spec{
		Name: "g" + kind, Kind: kind, Node: "pve-s1", VMID: vmid,
		Cores: 1, MemoryMiB: 512, DiskGiB: 4, Storage: "local-lvm", Bridge: "vmbr0", VLAN: 30,
		MAC: "02:00:00:00:00:0" + map[string]string{inventory.KindVM: "1", inventory.KindLXC: "2"}[kind],
		IP:  netip.MustParsePrefix("10.0.30.11/24"), Gateway: netip.MustParseAddr("10.0.30.1"),
		DNS: []netip.Addr{netip.MustParseAddr("10.0.30.1")}, Domain: "lab.example",
		SSHUser: "debian", SSHKeys: []string{realKey(t)}, Mark: "homelab:lab:g" + kind,
		OnBoot: true, Startup: "order=30",
	}
	if kind == inventory.KindVM {
		s.Template = &inventory.VMTemplate{Name: "debian-12-cloud", VMID: 9000, Node: "pve-s1"}
	} else {
		s.OSTemplate = simpve.DefaultCTTemplate
	}
	return s
}

func fieldNames(fs []step.Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name+"="+f.New)
	}
	return out
}

// TestOnbootStartupAndAgent: guests get onboot and a startup order, kept
// like any managed key (observe, update, converge), changed in place on a
// running guest; agent is set only when the template has the agent.
func TestOnbootStartupAndAgent(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{inventory.KindVM, inventory.KindLXC} {
		t.Run(kind, func(t *testing.T) {
			srv, c := simClient(t)
			vmid := map[string]int{inventory.KindVM: 201, inventory.KindLXC: 202}[kind]
			w := GuestWork{Client: c, Spec: testSpec(t, kind, vmid)}
			ch, err := w.Observe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			created := fieldNames(ch.Fields)
			if ch.Action != step.Create || !slices.Contains(created, "onboot=1") || !slices.Contains(created, "startup=order=30") || slices.ContainsFunc(created, func(f string) bool { return strings.HasPrefix(f, "agent=") }) {
				t.Fatalf("create: %s %v", ch.Action.Name(), created)
			}
			if err := w.Apply(ctx, ch, io.Discard); err != nil {
				t.Fatal(err)
			}
			g, _ := srv.Guest(vmid)
			if g.Config["onboot"] != "1" || g.Config["startup"] != "order=30" {
				t.Errorf("after create: onboot %q startup %q", g.Config["onboot"], g.Config["startup"])
			}
			if kind == inventory.KindVM && g.Config["agent"] != "0" {
				t.Errorf("agent %q: homelab changed the template's agent option without being told", g.Config["agent"])
			}
			if ch, err = w.Observe(ctx); err != nil || ch.Action != step.None {
				t.Fatalf("after create: %s %+v %v", ch.Action.Name(), ch.Fields, err)
			}

			// The guest runs; the inventory changes its boot settings.
			path := guestPath("pve-s1", kind, vmid) + "/status/start"
			var upid pve.UPID
			if err := c.API().Post(ctx, path, nil, &upid); err != nil {
				t.Fatal(err)
			}
			if err := c.wait(ctx, pve.NewTask(upid, c.API()), "start"); err != nil {
				t.Fatal(err)
			}
			w.Spec.OnBoot, w.Spec.Startup = false, "order=5,up=30"
			ch, err = w.Observe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := fieldNames(ch.Fields); ch.Action != step.Update || !slices.Equal(got, []string{"onboot=0", "startup=order=5,up=30"}) {
				t.Fatalf("boot settings changed on a running guest: %s %v %q", ch.Action.Name(), got, ch.Reason)
			}
			if err := w.Apply(ctx, ch, io.Discard); err != nil {
				t.Fatal(err)
			}
			if g, _ := srv.Guest(vmid); g.Config["onboot"] != "0" || g.Config["startup"] != "order=5,up=30" || g.Status != "running" {
				t.Errorf("after update: onboot %q startup %q status %s", g.Config["onboot"], g.Config["startup"], g.Status)
			}
			if ch, err = w.Observe(ctx); err != nil || ch.Action != step.None {
				t.Fatalf("after update: %s %+v %v", ch.Action.Name(), ch.Fields, err)
			}
			// PVE's onboot defaults to 0: an absent key is what onboot: false wants.
			if err := c.API().Put(ctx, guestPath("pve-s1", kind, vmid)+"/config", map[string]any{"delete": "onboot"}, nil); err != nil {
				t.Fatal(err)
			}
			if ch, err = w.Observe(ctx); err != nil || ch.Action != step.None {
				t.Fatalf("onboot absent, onboot false wanted: %s %+v %v", ch.Action.Name(), ch.Fields, err)
			}
		})
	}
}

// TestAgentOnlyWhereTheTemplateHasIt: a template marked agent: true gives
// its clones agent enabled=1.
func TestAgentOnlyWhereTheTemplateHasIt(t *testing.T) {
	ctx := context.Background()
	srv, c := simClient(t)
	s := testSpec(t, inventory.KindVM, 203)
	s.Template.Agent, s.Agent = true, true
	w := GuestWork{Client: c, Spec: s}
	ch, err := w.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(fieldNames(ch.Fields), "agent=enabled=1") {
		t.Fatalf("create fields %v", fieldNames(ch.Fields))
	}
	if err := w.Apply(ctx, ch, io.Discard); err != nil {
		t.Fatal(err)
	}
	if g, _ := srv.Guest(203); g.Config["agent"] != "enabled=1" {
		t.Errorf("agent %q", g.Config["agent"])
	}
}

// TestSpecForBootSettings: SpecFor carries the inventory's onboot, startup
// and the template's agent.
func TestSpecForBootSettings(t *testing.T) {
	inv, _, err := inventory.Load("../../inventories/rachuna-net.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"ct01005": "order=10", "lb-1": "order=30", "master-2": "order=40", "worker-6": "order=50"} {
		g, _ := inv.Guest(name)
		s, err := SpecFor(inv, g)
		if err != nil {
			t.Fatal(err)
		}
		if s.Startup != want || !s.OnBoot || s.Agent {
			t.Errorf("%s: startup %q onboot %v agent %v", name, s.Startup, s.OnBoot, s.Agent)
		}
	}
	g, _ := inv.Guest("lb-1")
	off := false
	g.OnBoot, g.Startup = &off, &inventory.Startup{Order: 3, Up: 20, Down: 90}
	inv.Proxmox.Templates.VM[0].Agent = true
	s, err := SpecFor(inv, g)
	if err != nil {
		t.Fatal(err)
	}
	if s.Startup != "order=3,up=20,down=90" || s.OnBoot || !s.Agent {
		t.Errorf("overridden: startup %q onboot %v agent %v", s.Startup, s.OnBoot, s.Agent)
	}
}
