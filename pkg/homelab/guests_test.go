package homelab_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	simpve "github.com/homelabctl/homelab/pkg/sim/pve"
	"github.com/homelabctl/homelab/pkg/simlab"
	"github.com/homelabctl/homelab/pkg/step"
)

func guestsLab(t *testing.T, inv *inventory.Inventory) *simlab.Lab {
	t.Helper()
	lab, err := simlab.Start(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	return lab
}

func guestsPlan(t *testing.T, inv *inventory.Inventory, c Clients, replace ...string) *plan.Plan {
	t.Helper()
	file, err := plan.LoadFile("../../plans/guests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(context.Background(), inv, file, PlanOptions{Clients: c, Replace: replace})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fast retries: the engine's backoff without waiting.
func runFast(ctx context.Context, g *step.Graph) (*engine.Result, error) {
	return engine.Run(ctx, g, engine.Options{Parallelism: 6, Sleep: func(context.Context, time.Duration) error { return nil }})
}

// The reference lab's 15 guests against the PVE simulator, through the
// unmodified go-proxmox client: planning only reads; the run creates each
// guest on its node with the inventory's config; a second plan is
// converged and a second run makes no mutating call.
func TestGuestsPhaseAgainstSimulator(t *testing.T) {
	inv := loadInventory(t, "../../inventories/rachuna-net.yaml")
	lab := guestsLab(t, inv)
	c := lab.Clients()
	ctx := context.Background()

	p := guestsPlan(t, inv, c)
	if n := lab.Proxmox.MutatingCalls(); n != 0 {
		t.Fatalf("planning made %d mutating calls", n)
	}
	if n := lab.Proxmox.Count("GET", "/cluster/resources"); n != 1 {
		t.Errorf("planning listed the cluster %d times, want once", n)
	}
	if sum := p.Summary(); sum.Create != 15 || sum.Update != 15 || !p.Observed {
		t.Fatalf("first plan: %+v observed %v", sum, p.Observed)
	}
	if _, err := runFast(ctx, p.Graph()); err != nil {
		t.Fatal(err)
	}
	for _, g := range inv.Guests {
		got, ok := lab.Proxmox.Guest(g.VMID)
		if !ok {
			t.Errorf("%s (%d) was not created", g.Name, g.VMID)
			continue
		}
		kind := map[string]simpve.Kind{inventory.KindVM: simpve.KindVM, inventory.KindLXC: simpve.KindCT}[g.Kind]
		if got.Node != g.Node || got.Kind != kind || got.Status != "running" || !strings.Contains(got.Tags, "homelab") {
			t.Errorf("%s: node %s kind %v status %s tags %q", g.Name, got.Node, got.Kind, got.Status, got.Tags)
		}
		wantMAC := strings.ToUpper(g.MAC)
		if !strings.Contains(strings.ToUpper(got.Config["net0"]), wantMAC) || got.Config["cores"] != strconv.Itoa(g.Cores) || got.Config["memory"] != strconv.Itoa(g.Memory) {
			t.Errorf("%s: net0 %q cores %s memory %s", g.Name, got.Config["net0"], got.Config["cores"], got.Config["memory"])
		}
		if g.Kind == inventory.KindVM && !strings.Contains(got.Config["ipconfig0"], "ip="+g.IP.String()+"/") {
			t.Errorf("%s: ipconfig0 %q", g.Name, got.Config["ipconfig0"])
		}
	}
	writes := lab.Proxmox.MutatingCalls()

	p2 := guestsPlan(t, inv, c)
	if sum := p2.Summary(); sum.None != 15 || sum.Run != 15 {
		t.Fatalf("second plan: %+v", sum)
	}
	if _, err := runFast(ctx, p2.Graph()); err != nil {
		t.Fatal(err)
	}
	if n := lab.Proxmox.MutatingCalls(); n != writes {
		t.Errorf("a converged run made %d mutating calls", n-writes)
	}
}

// The cluster list lags behind on real clusters: a plan made right after
// a run, while the list still shows no guests, must not say "create".
func TestPlanDoesNotTrustALaggingClusterList(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{ResourceLag: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	c := lab.Clients()
	if _, err := runFast(context.Background(), guestsPlan(t, inv, c).Graph()); err != nil {
		t.Fatal(err)
	}
	var rs []map[string]any
	if err := c.Proxmox.API().Get(context.Background(), "/cluster/resources?type=vm", &rs); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r["template"] != float64(1) {
			t.Fatalf("the list does not lag: %v", r)
		}
	}
	if sum := guestsPlan(t, inv, c).Summary(); sum.None != len(inv.Guests) {
		t.Fatalf("plan after the run, with the list an hour behind: %+v", sum)
	}
}

// Drift in a managed field is a ~ with the field's old and new value, and
// a run puts it back; a change that cannot be made to a running guest is
// a conflict until --replace allows the rebuild.
func TestGuestDriftAndRebuild(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	lab := guestsLab(t, inv)
	c := lab.Clients()
	ctx := context.Background()
	if _, err := runFast(ctx, guestsPlan(t, inv, c).Graph()); err != nil {
		t.Fatal(err)
	}
	lb, _ := inv.Guest("lb-1")
	// Someone gives lb-1 more cores in the web UI.
	path := "/nodes/" + lb.Node + "/qemu/" + strconv.Itoa(lb.VMID) + "/config"
	if err := c.Proxmox.API().Put(ctx, path, map[string]any{"cores": 8}, nil); err != nil {
		t.Fatal(err)
	}
	st, _ := guestsPlan(t, inv, c).Step(step.GuestID("lb-1"))
	if st.Change.Action != step.Update || len(st.Change.Fields) != 1 || st.Change.Fields[0].Name != "cores" || st.Change.Fields[0].Old != "8" || st.Change.Fields[0].New != strconv.Itoa(lb.Cores) {
		t.Fatalf("drift: %s %+v", st.Change.Action.Name(), st.Change.Fields)
	}
	if _, err := runFast(ctx, guestsPlan(t, inv, c).Graph()); err != nil {
		t.Fatal(err)
	}
	if g, _ := lab.Proxmox.Guest(lb.VMID); g.Config["cores"] != strconv.Itoa(lb.Cores) {
		t.Fatalf("cores after the run: %s", g.Config["cores"])
	}

	// The inventory moves lb-1 to another VLAN: its NIC cannot change
	// while it runs.
	inv.Networks[0].VLAN = 31
	st, _ = guestsPlan(t, inv, c).Step(step.GuestID("lb-1"))
	if st.Change.Action != step.Conflict || !strings.Contains(st.Change.Reason, "pass --replace lb-1") || !strings.Contains(st.Change.Reason, "net0") {
		t.Fatalf("running NIC change: %s %q", st.Change.Action.Name(), st.Change.Reason)
	}
	var all []string
	for _, g := range inv.Guests {
		all = append(all, g.Name)
	}
	p := guestsPlan(t, inv, c, all...)
	st, _ = p.Step(step.GuestID("lb-1"))
	if st.Change.Action != step.Replace || !strings.Contains(st.Change.Reason, "replaced as asked") {
		t.Fatalf("with --replace: %s %q", st.Change.Action.Name(), st.Change.Reason)
	}
	// A rebuild is a delete and a create: a policy that denies deletes
	// sees it, in the counts and in the plan's JSON.
	if sum := p.Summary(); sum.Replace < 1 || sum.Delete != sum.Replace || sum.Create < sum.Replace {
		t.Fatalf("summary with a replace: %+v", sum)
	}
	var js strings.Builder
	if err := plan.RenderJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"action": "replace"`) {
		t.Fatalf("plan JSON without the replace:\n%s", js.String())
	}
	if _, err := runFast(ctx, p.Graph()); err != nil {
		t.Fatal(err)
	}
	if g, _ := lab.Proxmox.Guest(lb.VMID); !strings.Contains(g.Config["net0"], "tag=31") || g.Status != "running" {
		t.Fatalf("after the rebuild: net0 %q status %s", g.Config["net0"], g.Status)
	}
}

// A guest that is not homelab's holds an inventory vmid, another holds an
// inventory name: both are conflicts that name them, and a run leaves
// them exactly as they were.
func TestForeignGuestsAreNotTouched(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	lab := guestsLab(t, inv)
	c := lab.Clients()
	w, _ := inv.Guest("worker-1")
	lb, _ := inv.Guest("lb-2")
	foreign := []simpve.Guest{
		{VMID: w.VMID, Kind: simpve.KindVM, Node: w.Node, Name: "nas", Status: "running", Config: map[string]string{"cores": "4", "memory": "8192"}},
		{VMID: 4242, Kind: simpve.KindVM, Node: lb.Node, Name: "lb-2", Status: "stopped", Config: map[string]string{"cores": "1", "memory": "512"}},
	}
	for _, g := range foreign {
		if err := lab.Proxmox.Seed(g); err != nil {
			t.Fatal(err)
		}
	}
	p := guestsPlan(t, inv, c)
	st, _ := p.Step(step.GuestID("worker-1"))
	if st.Change.Action != step.Conflict || !strings.Contains(st.Change.Reason, `vmid `+strconv.Itoa(w.VMID)+` ("nas" on `+w.Node+`) exists without homelab's mark`) {
		t.Errorf("vmid clash: %s %q", st.Change.Action.Name(), st.Change.Reason)
	}
	st, _ = p.Step(step.GuestID("lb-2"))
	if st.Change.Action != step.Conflict || !strings.Contains(st.Change.Reason, "a guest named lb-2 already exists as 4242") {
		t.Errorf("name clash: %s %q", st.Change.Action.Name(), st.Change.Reason)
	}
	lab.Proxmox.ResetLog()
	if _, err := runFast(context.Background(), p.Graph()); err == nil {
		t.Fatal("a run with conflicts succeeded")
	}
	for _, r := range lab.Proxmox.Log() {
		if r.Method != "GET" && (strings.Contains(r.Path, "/"+strconv.Itoa(w.VMID)) || strings.Contains(r.Path, "/4242")) {
			t.Errorf("a write reached a foreign guest: %s %s", r.Method, r.Path)
		}
	}
	for _, f := range foreign {
		g, _ := lab.Proxmox.Guest(f.VMID)
		if g.Name != f.Name || g.Config["cores"] != f.Config["cores"] || g.Status != f.Status {
			t.Errorf("foreign guest %d changed: %+v", f.VMID, g)
		}
	}
	// Down lists only homelab's guests.
	removals, err := DownPlan(context.Background(), inv, Clients{Proxmox: c.Proxmox})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range removals {
		if strings.Contains(r.What, "nas") || strings.Contains(r.What, "(4242)") {
			t.Errorf("down would remove %s", r.What)
		}
	}
}

// Faults from PVE mid-run: each is reported with the step and PVE's own
// words, and a re-run converges with no duplicate guest.
func TestGuestFaultsThenRerun(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*simpve.Server)
		want   string
	}{
		{"task fails", func(s *simpve.Server) {
			s.InjectTaskFault(simpve.TaskFault{Type: "qmclone", ExitStatus: "clone failed: storage 'local-lvm' is full"})
		}, "clone failed: storage 'local-lvm' is full"},
		{"lock timeout", func(s *simpve.Server) {
			s.FailNext("POST", "/nodes/*/qemu/*/clone", 1, 500, "can't lock file '/var/lock/qemu-server/lock-9001.conf' - got timeout")
		}, "can't lock file"},
		{"500 on config", func(s *simpve.Server) {
			s.FailNext("PUT", "/nodes/*/qemu/*/config", 1, 500, "unable to parse value of 'net0'")
		}, "500 unable to parse value of 'net0'"},
		{"dropped connection", func(s *simpve.Server) {
			s.DropNext("POST", "/nodes/*/qemu/*/clone", 1)
		}, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := loadInventory(t, "../../inventories/small.yaml")
			lab := guestsLab(t, inv)
			c := lab.Clients()
			ctx := context.Background()
			tt.inject(lab.Proxmox)
			_, err := engine.Run(ctx, guestsPlan(t, inv, c).Graph(), engine.Options{Parallelism: 1, Retry: engine.RetryPolicy{MaxAttempts: 1}})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "step guest/") {
				t.Fatalf("err = %v, want the step and %q", err, tt.want)
			}
			if _, err := runFast(ctx, guestsPlan(t, inv, c).Graph()); err != nil {
				t.Fatalf("re-run: %v", err)
			}
			p := guestsPlan(t, inv, c)
			if sum := p.Summary(); sum.None != len(inv.Guests) {
				t.Fatalf("after the re-run: %+v", sum)
			}
			names := map[string]int{}
			for _, g := range lab.Proxmox.Guests() {
				if !g.Template {
					names[g.Name]++
				}
			}
			for _, g := range inv.Guests {
				if names[g.Name] != 1 {
					t.Errorf("%s exists %d times", g.Name, names[g.Name])
				}
			}
		})
	}
}

// Teardown removes homelab's guests, and only them.
func TestDownRemovesOurGuests(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	lab := guestsLab(t, inv)
	c := lab.Clients()
	if err := lab.Proxmox.Seed(simpve.Guest{VMID: 4343, Kind: simpve.KindCT, Node: inv.Guests[0].Node, Name: "pihole", Status: "running", Tags: "dns", Config: map[string]string{"hostname": "pihole"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := runFast(context.Background(), guestsPlan(t, inv, c).Graph()); err != nil {
		t.Fatal(err)
	}
	removals, err := DownPlan(context.Background(), inv, Clients{Proxmox: c.Proxmox})
	if err != nil {
		t.Fatal(err)
	}
	if len(removals) != len(inv.Guests) {
		t.Fatalf("down lists %d guests, want %d", len(removals), len(inv.Guests))
	}
	if err := Down(context.Background(), removals, new(strings.Builder)); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, g := range lab.Proxmox.Guests() {
		if !g.Template {
			left = append(left, g.Name)
		}
	}
	if strings.Join(left, ",") != "pihole" {
		t.Errorf("after down: %v", left)
	}
}

// BenchmarkGuestsUp creates the reference lab's 15 guests against the PVE
// simulator with a realistic task latency model scaled down 100 times
// (a 25 s clone takes 250 ms), and reports the API calls per run. The
// wall time per op, multiplied by 100, estimates the real rebuild's guest
// phase under the same schedule.
func BenchmarkGuestsUp(b *testing.B) {
	inv, _, err := inventory.Load("../../inventories/rachuna-net.yaml")
	if err != nil {
		b.Fatal(err)
	}
	file, err := plan.LoadFile("../../plans/guests.yaml")
	if err != nil {
		b.Fatal(err)
	}
	latency := simpve.RealisticLatency()
	latency.Scale = 0.01
	var calls, writes int
	for b.Loop() {
		b.StopTimer()
		lab, err := simlab.Start(context.Background(), inv, simlab.Options{Latency: latency})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, _, err := Up(context.Background(), inv, file, ApplyOptions{Clients: lab.Clients(), Parallelism: 8}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		calls += len(lab.Proxmox.Log())
		writes += lab.Proxmox.MutatingCalls()
		lab.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(calls)/float64(b.N), "api-calls/op")
	b.ReportMetric(float64(writes)/float64(b.N), "writes/op")
}
