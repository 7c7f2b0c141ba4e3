package view

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/step"
)

func TestStatus(t *testing.T) {
	p := &plan.Plan{Steps: []plan.Step{
		{ID: "router/dns/a", Phase: "network", ObservedDigest: "d", Change: step.Change{Action: step.None}},
		{ID: "guest/lb-1", Phase: "guests", ObservedDigest: "d", Change: step.Change{Action: step.Update, Fields: []step.Field{{Name: "cores", Old: "8", New: "2"}}}},
		{ID: "guest/lb-2", Phase: "guests", ObservedDigest: "d", Change: step.Change{Action: step.Create}},
		{ID: "guest/x", Phase: "guests", ObservedDigest: "d", Change: step.Change{Action: step.Conflict, Reason: "vmid 105 is not ours"}},
		{ID: "lb/keepalived/lb-1", Phase: "loadbalancers", Change: step.Change{Action: step.Create, Fields: []step.Field{{Name: "auth_pass", New: "secret", Sensitive: true}}}},
	}}
	var b bytes.Buffer
	if err := Status(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"router/dns/a        in sync",
		`guest/lb-1          drifted       cores: "8" -> "2"`,
		"guest/lb-2          missing",
		"guest/x             conflict      vmid 105 is not ours",
		"lb/keepalived/lb-1  not observed",
		"5 resources: 1 in sync, 1 missing, 1 drifted, 1 conflict, 1 not observed.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Error("status shows a secret")
	}
}

func TestPlainAndSummary(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	v := &Plain{W: &b}
	change := step.Change{Action: step.Create}
	for _, e := range []engine.Event{
		{Kind: engine.StepStarted, Step: "guest/lb-1", Time: t0},
		{Kind: engine.StepChange, Step: "guest/lb-1", Time: t0, Change: &change},
		{Kind: engine.StepOutput, Step: "guest/lb-1", Time: t0, Line: "cloned lb-1"},
		{Kind: engine.StepRetry, Step: "guest/lb-1", Time: t0, Attempt: 2, Delay: time.Second, Err: "got timeout"},
		{Kind: engine.StepDone, Step: "guest/lb-1", Time: t0.Add(1500 * time.Millisecond)},
		{Kind: engine.StepFailed, Step: "guest/lb-2", Time: t0, Err: "boom"},
		{Kind: engine.StepSkipped, Step: "guest/lb-2/boot", Time: t0, Reason: "needs guest/lb-2, which failed"},
	} {
		v.Emit(e)
	}
	want := `10:00:00 start   guest/lb-1
10:00:00 +       guest/lb-1
10:00:00         guest/lb-1 | cloned lb-1
10:00:00 retry   guest/lb-1 (attempt 2 in 1s): got timeout
10:00:01 done    guest/lb-1 (1.5s)
10:00:00 FAILED  guest/lb-2: boom
10:00:00 skipped guest/lb-2/boot: needs guest/lb-2, which failed
`
	if b.String() != want {
		t.Errorf("plain view:\n%s\nwant:\n%s", b.String(), want)
	}

	res := &engine.Result{Steps: []engine.StepResult{
		{ID: "guest/lb-1", Status: engine.Done, Change: change, Started: t0, Ended: t0.Add(1500 * time.Millisecond)},
		{ID: "guest/lb-2", Status: engine.Failed, Started: t0, Ended: t0.Add(time.Second)},
		{ID: "guest/lb-2/boot", Status: engine.Skipped},
	}}
	b.Reset()
	Summary(&b, []string{"guests"}, map[step.ID]string{"guest/lb-1": "guests", "guest/lb-2": "guests", "guest/lb-2/boot": "guests"}, res, 2*time.Second)
	if !strings.Contains(b.String(), "guests         1 created, 0 changed, 0 unchanged, 0 ran, 1 failed, 1 skipped") || !strings.Contains(b.String(), "slowest: guest/lb-1 1.5s, guest/lb-2 1s") {
		t.Errorf("summary:\n%s", b.String())
	}
}

func TestLive(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	l := &Live{W: &b, Total: 3, Now: func() time.Time { return t0.Add(5 * time.Second) }}
	l.Emit(engine.Event{Kind: engine.StepStarted, Step: "guest/a", Time: t0})
	l.Emit(engine.Event{Kind: engine.StepStarted, Step: "guest/b", Time: t0})
	l.Emit(engine.Event{Kind: engine.StepRetry, Step: "guest/b", Time: t0, Attempt: 2, Delay: time.Second, Err: "got timeout"})
	out := b.String()
	if !strings.Contains(out, "[0/3 done, 2 running]\n  guest/a 5s\n  guest/b 5s (retried 1×)\n") {
		t.Errorf("block:\n%q", out)
	}
	b.Reset()
	l.Emit(engine.Event{Kind: engine.StepDone, Step: "guest/a", Time: t0.Add(2 * time.Second)})
	out = b.String()
	// The old block (3 lines) is erased, the finished step scrolls by,
	// and the new block follows.
	if strings.Count(out, "\x1b[1A\x1b[2K") != 3 || !strings.Contains(out, "done    guest/a (2s)\n[1/3 done, 1 running]\n  guest/b 5s (retried 1×)\n") {
		t.Errorf("after done:\n%q", out)
	}
	if strings.Contains(out, "\x1b[32m") {
		t.Error("colours without Color")
	}
}

func TestEndpoints(t *testing.T) {
	inv, _, err := inventory.Load("../../inventories/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	vip := inv.LoadBalancer.VIPs[0].Name
	Endpoints(&b, inv, "/tmp/lab.conf", Built{VIPs: map[string]bool{vip: true}, KubernetesAPI: true, Kubeconfig: true})
	if !strings.Contains(b.String(), "Kubernetes API  https://"+inv.Kubernetes.Endpoint+":6443") || !strings.Contains(b.String(), "VIP "+vip) ||
		!strings.Contains(b.String(), "kubeconfig      /tmp/lab.conf") {
		t.Errorf("endpoints:\n%s", b.String())
	}
	// A partial run lists only what it brought up.
	b.Reset()
	Endpoints(&b, inv, "/tmp/lab.conf", Built{VIPs: map[string]bool{vip: true}})
	if !strings.Contains(b.String(), "VIP "+vip) || strings.Contains(b.String(), "Kubernetes API") || strings.Contains(b.String(), "kubeconfig") {
		t.Errorf("endpoints after the load balancers alone:\n%s", b.String())
	}
	b.Reset()
	Endpoints(&b, inv, "/tmp/lab.conf", Built{})
	if b.Len() != 0 {
		t.Errorf("endpoints after a run that brought none up:\n%s", b.String())
	}
}
