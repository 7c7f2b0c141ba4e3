package homelab_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/sim/host"
	"github.com/homelabctl/homelab/pkg/simlab"
)

// A run killed while dpkg unpacks containerd on a node (Ctrl-C, a CI
// timeout: the session's SIGKILL reaches the whole apt process group)
// leaves dpkg interrupted, and apt refuses every later install until
// `dpkg --configure -a` has run: the next run finishes dpkg's work and
// installs, and the lab converges.
func TestResumesAnInstallKilledWhileDpkgUnpacks(t *testing.T) {
	inv := loadInventory(t, "testdata/ha.yaml")
	lab, err := simlab.Start(context.Background(), inv, simlab.Options{VRRPScale: 0.05, HostLatency: host.Latency{Install: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })

	// The first run is killed as soon as dpkg journals on worker-1.
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	journal := func() bool {
		h, ok := lab.Hosts.Host("worker-1")
		return ok && h.Run(context.Background(), "root", "test -e /var/lib/dpkg/updates/0000", nil, io.Discard, io.Discard) == 0
	}
	go func() {
		for ctx.Err() == nil && !journal() {
			time.Sleep(5 * time.Millisecond)
		}
		kill()
	}()
	if _, _, err := Up(ctx, inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6}); err == nil {
		t.Fatal("the run was not killed")
	}
	if !journal() {
		t.Fatal("the killed run left dpkg on worker-1 whole: nothing to resume")
	}

	log := &runLog{}
	if _, _, err := Up(context.Background(), inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event)}); err != nil {
		t.Fatalf("the run after the killed one: %v\n%s", err, strings.Join(log.lines, "\n"))
	}
	if !strings.Contains(strings.Join(log.lines, "\n"), "kube/prepare/worker-1: dpkg was interrupted (an earlier install was cut off): dpkg --configure -a, as apt asks") {
		t.Errorf("worker-1's prepare did not say it finished dpkg's work:\n%s", strings.Join(log.lines, "\n"))
	}
	healthy(t, lab)
	converged(t, inv, lab, "after the run killed while dpkg unpacked")
}
