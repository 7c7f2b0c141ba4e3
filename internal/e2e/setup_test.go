package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homelabctl/homelab/internal/lab"
	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/inventory"
)

func TestMain(m *testing.M) {
	lab.ServeMirror()
	os.Exit(m.Run())
}

// required reports whether a missing prerequisite fails the test instead
// of skipping it (make e2e sets HOMELAB_REQUIRE_K8S=1).
func required() bool { return os.Getenv("HOMELAB_REQUIRE_K8S") == "1" }

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if required() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// k8sBuild returns the tools/k8s build (binaries, image archives, apt
// repository), or skips when there is none or no lab can run here
// (fails under HOMELAB_REQUIRE_K8S=1).
func k8sBuild(t testing.TB) lab.K8sBuild {
	t.Helper()
	if err := lab.Available(); err != nil {
		skipOrFail(t, "no lab here: %v", err)
	}
	b, missing, err := lab.FindK8sBuild("../..", "bin/kubeadm", "bin/kubectl", "bin/etcdctl", "images/images.txt", "apt/InRelease", "apt/Release.key", "dist.recipe")
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		skipOrFail(t, "no Kubernetes build in %s (missing %v): run tools/k8s/build.sh (make e2e-tools)", b.Dir, missing)
	}
	// The cache is shared by every clone: a build.sh from before the etcd
	// image carried etcdctl rewrites the images without it, and homelab's
	// control-plane gate runs etcdctl in the etcd pod.
	if out, err := exec.Command("sh", "-c", "tar -xOf "+filepath.Join(b.Dir, "images", "etcd_*.tar")+" --wildcards '*/layer.tar' | tar -t").Output(); err != nil || !strings.Contains(string(out), "usr/local/bin/etcdctl\n") {
		skipOrFail(t, "the etcd image in %s has no etcdctl (written by an older tools/k8s/build.sh): run tools/k8s/build.sh (make e2e-tools)", b.Dir)
	}
	return b
}

// renderInventory writes testdata/lab.yaml for this lab and loads it. An
// inventory that homelab cannot read because it lacks a field the lab needs
// skips the test with homelab's words (fails under HOMELAB_REQUIRE_K8S=1):
// the lab never works around homelab.
func renderInventory(t testing.TB, dir string, subnet netip.Prefix, key, mirror string, images map[string]string) (*inventory.Inventory, string) {
	t.Helper()
	text, err := os.ReadFile("testdata/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for f := range images {
		files = append(files, f)
	}
	sort.Strings(files)
	var list strings.Builder
	for _, f := range files {
		fmt.Fprintf(&list, "    - http://%s/images/%s\n", mirror, f)
	}
	net := strings.TrimSuffix(subnet.Addr().String(), ".0")
	rendered := strings.NewReplacer("{{net}}", net, "{{key}}", key, "{{mirror}}", mirror, "{{images}}\n", list.String()).Replace(string(text))
	path := filepath.Join(dir, "e2e.yaml")
	if err := os.WriteFile(path, []byte(rendered), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, diags, err := inventory.Load(path)
	if err != nil {
		if strings.Contains(err.Error(), "unknown field") {
			skipOrFail(t, "homelab cannot read the e2e inventory: it lacks fields the lab needs (issue 13 item 3: kubernetes.packages, image_archives, containerd, kube_proxy, cni.name bridge): %v", err)
		}
		t.Fatalf("the e2e inventory: %v", err)
	}
	for _, d := range diags {
		t.Logf("inventory: %s", d)
	}
	return inv, path
}

// stepClock records when each step started and finished, and what it
// printed, from the engine's events.
type stepClock struct {
	mu     sync.Mutex
	t      testing.TB
	start  map[string]time.Time
	took   map[string]time.Duration
	order  []string
	output map[string][]string
}

func newStepClock(t testing.TB) *stepClock {
	return &stepClock{t: t, start: map[string]time.Time{}, took: map[string]time.Duration{}, output: map[string][]string{}}
}

func (c *stepClock) Emit(e engine.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := string(e.Step)
	switch e.Kind {
	case engine.StepStarted:
		if _, ok := c.start[id]; !ok {
			c.start[id] = time.Now()
		}
	case engine.StepOutput:
		c.output[id] = append(c.output[id], e.Line)
	case engine.StepRetry:
		c.t.Logf("%s: retry after %s: %s", id, e.Delay, e.Err)
	case engine.StepDone, engine.StepFailed, engine.StepSkipped:
		if s, ok := c.start[id]; ok {
			c.took[id] = time.Since(s)
		}
		c.order = append(c.order, id)
		switch e.Kind {
		case engine.StepFailed:
			c.t.Logf("%-40s FAILED after %5.1fs: %s\n%s", id, c.took[id].Seconds(), e.Err, strings.Join(c.output[id], "\n"))
		case engine.StepSkipped:
			c.t.Logf("%-40s skipped: %s", id, e.Reason)
		default:
			c.t.Logf("%-40s done   %5.1fs", id, c.took[id].Seconds())
		}
	}
}

// reset forgets the last run.
func (c *stepClock) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.start, c.took, c.order, c.output = map[string]time.Time{}, map[string]time.Duration{}, nil, map[string][]string{}
}

// lines returns what the steps printed, "STEP: LINE" each.
func (c *stepClock) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, id := range c.order {
		for _, l := range c.output[id] {
			out = append(out, id+": "+l)
		}
	}
	return out
}

// memorySampler records the machine's peak memory in use (MemTotal -
// MemAvailable) above what was in use when it started.
type memorySampler struct {
	base, peak int64
	stop       chan struct{}
	done       chan struct{}
}

func memInUse() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var total, avail int64
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "MemTotal:":
			total = n
		case "MemAvailable:":
			avail = n
		}
	}
	return (total - avail) << 10
}

func sampleMemory() *memorySampler {
	m := &memorySampler{base: memInUse(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			if n := memInUse(); n > m.peak {
				m.peak = n
			}
			select {
			case <-m.stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return m
}

// Stop ends the sampling and returns the peak above the start.
func (m *memorySampler) Stop() int64 {
	close(m.stop)
	<-m.done
	return m.peak - m.base
}

// hostPeak is the peak memory of a lab host's cgroup (page cache
// included), or 0.
func hostPeak(h *lab.Host) int64 {
	for _, dir := range h.Cgroups {
		if strings.Contains(dir, "/memory/") {
			if b, err := os.ReadFile(filepath.Join(dir, "memory.max_usage_in_bytes")); err == nil {
				n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
				return n
			}
		}
	}
	return 0
}

// parallel runs f for every name at once and fails the test with every
// error.
func parallel(t testing.TB, names []string, f func(name string) error) {
	t.Helper()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(n) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// execIn runs a bash script in a lab host, returning its output.
func execIn(ctx context.Context, l *lab.Lab, host, script string) (string, error) {
	out, err := l.Exec(ctx, host, "bash", "-euo", "pipefail", "-c", script)
	return string(out), err
}
