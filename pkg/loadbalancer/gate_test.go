package loadbalancer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// addrHost is a load balancer answering `ip -o addr show` as iproute2
// prints it, with the VIP or without; it counts its commands.
type addrHost struct {
	ip   string
	vip  bool
	mu   sync.Mutex
	runs int
}

func (h *addrHost) Run(_ context.Context, cmd remote.Command) (remote.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs++
	if cmd.Script != addrScript {
		return remote.Result{ExitStatus: 127}, &remote.ExitError{Command: cmd.Script, Status: 127}
	}
	out := "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n" +
		fmt.Sprintf("2: eth0    inet %s/24 brd 192.168.30.255 scope global eth0\\       valid_lft forever preferred_lft forever\n", h.ip)
	if h.vip {
		out += "2: eth0    inet 192.168.30.10/32 scope global eth0\\       valid_lft forever preferred_lft forever\n"
	}
	return remote.Result{Stdout: []byte(out)}, nil
}

func (h *addrHost) Sync(context.Context, remote.File) (bool, error) { return false, nil }
func (h *addrHost) Read(context.Context, string) ([]byte, error)    { return nil, errors.New("no") }
func (h *addrHost) Close() error                                    { return nil }

func (h *addrHost) commands() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.runs
}

// A VIP gate looks while the plan observes, where every load balancer
// runs; a VIP held by exactly one then is not looked for again by the run
// that takes that observation. A VIP held by none or by two is waited for
// as ever, and the gate fails saying what it saw.
func TestVIPGateLooksWhilePlanning(t *testing.T) {
	for _, tc := range []struct {
		name    string
		holders []bool // lb-1, lb-2
		stopped bool   // lb-2 does not run
		want    string // the run's error; "" when it passes
	}{
		{name: "held by one", holders: []bool{false, true}},
		{name: "held by none", holders: []bool{false, false}, want: "last saw: no load balancer holds it"},
		{name: "held by two", holders: []bool{true, true}, want: "last saw: it is held by lb-1 and lb-2 at once"},
		{name: "a load balancer does not run", holders: []bool{true, false}, stopped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hosts := map[string]*addrHost{
				"lb-1": {ip: "192.168.30.11", vip: tc.holders[0]},
				"lb-2": {ip: "192.168.30.12", vip: tc.holders[1]},
			}
			g := vipGate{
				hosts:   func(lb string) (remote.Host, error) { return hosts[lb], nil },
				silence: &remote.Silence{},
				running: func(_ context.Context, lb string) bool { return !(tc.stopped && lb == "lb-2") },
				lbs:     []string{"lb-1", "lb-2"},
				name:    "main", vip: netip.MustParseAddr("192.168.30.10"),
				timeout: time.Nanosecond, sleep: func(context.Context, time.Duration) error { return nil },
			}
			commands := func() int { return hosts["lb-1"].commands() + hosts["lb-2"].commands() }
			if reads := g.HostReads(); len(reads) != 2 || reads[0] != (step.HostRead{Host: "lb-1", Script: addrScript}) {
				t.Errorf("declared %+v", reads)
			}
			c, err := g.Observe(context.Background())
			if err != nil || c.Action != step.Run || c.Passed != "" || commands() != 0 {
				t.Fatalf("observed outside a plan: %+v %v, %d commands", c, err, commands())
			}
			c, err = g.Observe(step.WithPass(context.Background()))
			if err != nil || c.Action != step.Run {
				t.Fatalf("observed in a plan: %+v %v", c, err)
			}
			looked := commands()
			switch {
			case tc.stopped && (looked != 0 || c.Passed != ""):
				t.Fatalf("looked while a load balancer does not run: %d commands, passed %q", looked, c.Passed)
			case !tc.stopped && (c.Passed != "") != (tc.want == ""):
				t.Fatalf("passed while planning: %q, want passed %t", c.Passed, tc.want == "")
			}
			var out bytes.Buffer
			err = g.Apply(context.Background(), c, &out)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("apply: %v", err)
			case tc.want == "" && c.Passed != "" && (commands() != looked || out.String() != "VIP main (192.168.30.10) is held by lb-2 (seen while planning)\n"):
				t.Errorf("apply looked again (%d commands after %d) or said %q", commands(), looked, out.String())
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("apply: %v, want an error containing %q", err, tc.want)
			case c.Passed == "" && commands() == looked:
				t.Error("apply did not look")
			}
		})
	}
}
