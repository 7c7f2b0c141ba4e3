// Package e2e runs homelab's loadbalancers and kubernetes phases, unmodified
// and over SSH, against a lab of real hosts on this machine (internal/lab):
// the real HAProxy and keepalived, Debian's containerd, and the real
// kubeadm, kubelet, etcd and the rest of Kubernetes that tools/k8s builds,
// installed from the lab's own apt mirror. It needs root on Linux and the
// tools/k8s build (make e2e does both).
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/homelabctl/homelab/internal/lab"
	"github.com/homelabctl/homelab/pkg/engine"
	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

var (
	loadBalancers = []string{"lb-1", "lb-2"}
	controlPlanes = []string{"cp-1", "cp-2", "cp-3"}
	workers       = []string{"w-1", "w-2"}
)

const endpoint = "k8s-api.lab.test"

// debianPackages are what node preparation installs from Debian (containerd
// and what it needs, iptables that the kubelet package recommends, curl and
// gpg for the repository key, which apt upgrades when the lists know a
// newer version): the machine downloads them into its apt cache, which
// every host sees through its overlay, as a lab's caching proxy would hold
// them.
var debianPackages = []string{"containerd", "runc", "containernetworking-plugins", "iptables", "curl", "gpg"}

// The whole sequence against real software: the loadbalancers and
// kubernetes phases bring up 2 load balancers holding a VIP and a cluster
// of 3 control planes and 2 workers behind it; the test then asks the real
// software whether it is what homelab promises: 3 started voting etcd
// members, /readyz through the VIP, the endpoint name on the VIP on every
// node, every node Ready, the admin kubeconfig with the name; stopping
// HAProxy on the VIP holder moves the VIP and kubectl through the name
// keeps working; runs killed after init, between the control-plane joins
// and after the flip are resumed by the next; a second plan shows no
// change and a second run changes nothing; the disaster-recovery drill
// (drill_test.go) restores the cluster from a backup after every control
// plane is lost; and the machine's sysctls, cgroups, iptables and network
// are as before.
func TestE2E(t *testing.T) {
	f := &failures{TB: t}
	defer f.summary()
	e2e(f)
}

func e2e(t testing.TB) {
	if os.Getenv("HOMELAB_E2E") != "1" {
		// A run takes about ten minutes of the machine's two cores and
		// 4.5 GiB: make e2e runs it on its own (and .ci/run after
		// make test).
		t.Skip("the whole sequence on real Kubernetes runs with make e2e (HOMELAB_E2E=1)")
	}
	b := k8sBuild(t)
	build, version := b.Dir, b.Version
	images, err := b.Images()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	start := time.Now()
	phase := func(name string, since time.Time) { t.Logf("== %-44s %6.1fs", name, time.Since(since).Seconds()) }
	dir := t.TempDir()

	subnet := netip.MustParsePrefix(fmt.Sprintf("10.233.%d.0/24", os.Getpid()%250))
	hosts := []lab.HostSpec{}
	for _, n := range slices.Concat(loadBalancers, controlPlanes, workers) {
		hosts = append(hosts, lab.HostSpec{Name: n})
	}
	hosts = append(hosts, lab.HostSpec{Name: "mirror", Bare: true}, lab.HostSpec{Name: "client", Bare: true})
	mirror := netip.AddrPortFrom(hostIP(subnet, len(hosts)-2), 8080).String()
	// The inventory first: a homelab that cannot read it skips the test
	// before anything starts.
	inv, _ := renderInventory(t, dir, subnet, "/nonexistent/key", mirror, images)

	s := time.Now()
	if out, err := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-q", "--download-only"}, debianPackages...)...).CombinedOutput(); err != nil {
		t.Fatalf("apt-get install --download-only on the machine: %v\n%s", err, out)
	}
	phase("download Debian packages (machine)", s)

	// One lab at a time on the machine, held from before the first look
	// at the machine until after the last.
	hold, err := lab.Exclusive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hold.Release)
	before, err := lab.Baseline(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	mem := sampleMemory()
	s = time.Now()
	l, err := lab.Start(ctx, lab.Options{Prefix: "hle", Subnet: subnet, Hosts: hosts, Hold: hold})
	if err != nil {
		t.Fatal(err)
	}
	var stopMirror func()
	// Teardown, also when the test fails: the mirror, the lab; then the
	// machine must be as it was.
	defer func() {
		if stopMirror != nil {
			stopMirror()
		}
		for _, h := range l.Hosts() {
			if p := hostPeak(h); p > 0 {
				t.Logf("peak memory of %s's cgroup (page cache included): %d MiB", h.Name, p>>20)
			}
		}
		s := time.Now()
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		phase("close the lab", s)
		t.Logf("peak memory in use on the machine above the start: %d MiB", mem.Stop()>>20)
		changes, err := before.Changes()
		if err != nil {
			t.Error(err)
		}
		for _, c := range changes {
			t.Errorf("the e2e lab changed the machine: %s", c)
		}
		phase("in all", start)
	}()
	phase("start the lab (7 hosts, systemd, sshd)", s)
	if l.Host("mirror").IP.String()+":8080" != mirror {
		t.Fatalf("the mirror is at %s, not %s", l.Host("mirror").IP, mirror)
	}
	srv, err := l.Command("mirror", os.Args[0], "-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	srv.Env = append(os.Environ(), lab.MirrorEnv+"="+mirror+" "+build)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	stopMirror = func() { srv.Process.Kill(); srv.Wait() }

	// The guests' image: a fresh Debian guest has no Kubernetes packages,
	// while a lab host starts as a copy of the machine, which may carry
	// its own (another vendor's kubectl), and Docker's apt hook that
	// deletes every downloaded .deb after each dpkg run (it would remove
	// the cached packages a later install needs). And a Debian guest has its
	// kernel's /lib/modules: where the machine's kernel has overlay and
	// br_netfilter built in (no /proc/modules; overlay in /proc/filesystems,
	// the bridge sysctls present) and no /lib/modules of its own, the
	// hosts get the modules.builtin that kernel's package would carry.
	s = time.Now()
	parallel(t, slices.Concat(controlPlanes, workers), func(n string) error {
		_, err := execIn(ctx, l, n, `for p in kubectl kubelet kubeadm kubernetes-cni; do if dpkg -s $p >/dev/null 2>&1; then dpkg -r $p >/dev/null; fi; done
rm -f /etc/apt/apt.conf.d/docker-clean
d=/lib/modules/$(uname -r)
if [ ! -e /proc/modules ] && [ ! -e $d/modules.builtin ] && grep -qw overlay /proc/filesystems && [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
  mkdir -p $d && printf 'kernel/fs/overlayfs/overlay.ko\nkernel/net/bridge/br_netfilter.ko\n' > $d/modules.builtin
fi`)
		return err
	})
	phase("guest image: no Kubernetes packages, modules.builtin", s)

	inv, _ = renderInventory(t, dir, subnet, l.KeyFile(), mirror, images)
	pool := remote.NewPool(remote.Options{})
	defer pool.Close()
	dial := func(name string) (remote.Host, error) {
		g, ok := inv.Guest(name)
		if !ok {
			return nil, fmt.Errorf("no guest %q", name)
		}
		return pool.Host(remote.Config{Name: name, Address: netip.AddrPortFrom(g.IP, 22).String(), User: "root", KeyFile: l.KeyFile(),
			HostKeys: remote.HostKeyPolicy{TOFUFile: filepath.Join(dir, "known_hosts")}})
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	clients := homelab.Clients{
		Hosts:      dial,
		Secrets:    func(inventory.SecretRef) (string, error) { return "lab-vrrp", nil },
		Kubeconfig: kubeconfig,
		GatePoll:   time.Second,
	}
	file := &plan.File{Name: "e2e", Phases: []plan.PhaseRef{{Kind: "loadbalancers", Name: "loadbalancers"}, {Kind: "kubernetes", Name: "kubernetes"}}}
	clock := newStepClock(t)
	opts := homelab.RunOptions{Sink: clock, Parallelism: 4}

	// The first runs are killed where a real one is likeliest to stop
	// (the operator's laptop sleeps, CI times out): right after kubeadm
	// init, between the control-plane joins (the next join may be under
	// way), and after the first node's flip to the VIP (the other flips
	// may be done or not). Each next run plans again from what the lab
	// shows and resumes; the last one finishes.
	for _, at := range []step.ID{"kube/init/cp-1", "kube/join/cp-2", "kube/flip/cp-1"} {
		s = time.Now()
		p, err := homelab.Plan(ctx, inv, file, homelab.PlanOptions{Clients: clients})
		if err != nil {
			t.Fatalf("plan before the run killed after %s: %v\n%s", at, err, diagnose(l))
		}
		clock.reset()
		runCtx, kill := context.WithCancel(ctx)
		killer := &killAfter{Sink: clock, at: at, kill: kill}
		o := opts
		o.Sink = killer
		_, err = homelab.Run(runCtx, p, o)
		kill()
		if !killer.fired() {
			t.Fatalf("the run to be killed after %s ended before that step did: %v\n%s", at, err, diagnose(l))
		}
		phase(fmt.Sprintf("run killed after %s (%+v)", at, p.Summary()), s)
	}
	s = time.Now()
	p, err := homelab.Plan(ctx, inv, file, homelab.PlanOptions{Clients: clients})
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, diagnose(l))
	}
	phase(fmt.Sprintf("plan after the killed runs (%+v)", p.Summary()), s)
	clock.reset()
	s = time.Now()
	if _, err := homelab.Run(ctx, p, opts); err != nil {
		t.Fatalf("the run after the killed ones: %v\n%s", err, diagnose(l))
	}
	phase("the run after the killed ones", s)

	kubectl := func(host, args string) (string, error) {
		return execIn(ctx, l, host, "kubectl --kubeconfig /etc/kubernetes/admin.conf "+args)
	}
	vip := inv.LoadBalancer.VIPs[0].Address
	checkEtcd(t, ctx, kubectl)
	checkNodes(t, ctx, kubectl, version)
	checkEndpoint(t, ctx, l, dir, vip)
	checkKubeconfig(t, kubeconfig)

	// A second plan of the lab shows no change, and a second run changes
	// nothing: only the gates look again.
	s = time.Now()
	p2, err := homelab.Plan(ctx, inv, file, homelab.PlanOptions{Clients: clients})
	if err != nil {
		t.Fatalf("second plan: %v", err)
	}
	for _, st := range p2.Steps {
		if a := st.Change.Action; a != step.None && a != step.Run {
			t.Errorf("second plan: %s would %s: %+v", st.ID, a.Name(), st.Change)
		}
	}
	phase(fmt.Sprintf("second plan (%+v)", p2.Summary()), s)
	clock.reset()
	s = time.Now()
	if _, err := homelab.Run(ctx, p2, opts); err != nil {
		t.Fatalf("the second run: %v", err)
	}
	for _, line := range clock.lines() {
		id, _, _ := strings.Cut(line, ": ")
		if st, ok := p2.Step(step.ID(id)); !ok || st.Change.Action != step.Run {
			t.Errorf("the second run did something: %s", line)
		}
	}
	phase("the second run", s)

	// Failover: HAProxy stops on the VIP holder; keepalived moves the VIP
	// and kubectl through the name keeps working, from a control plane
	// (admin.conf names the endpoint) and from a worker with the
	// kubeconfig homelab wrote.
	s = time.Now()
	checkFailover(t, ctx, l, vip, kubeconfig)
	phase("failover", s)

	// The disaster-recovery drill, on the same cluster.
	s = time.Now()
	drill(t, ctx, drillEnv{l: l, inv: inv, file: file, clients: clients, opts: opts, clock: clock, dir: dir, version: version, kubectl: kubectl, phase: phase})
	phase("drill: in all", s)
	t.Logf("Kubernetes %s from %s", version, build)
}

// killAfter passes events on and kills the run (cancels its context) as
// soon as step at has finished.
type killAfter struct {
	engine.Sink
	at   step.ID
	kill context.CancelFunc
	done atomic.Bool
}

func (k *killAfter) Emit(e engine.Event) {
	k.Sink.Emit(e)
	if e.Step == k.at && e.Kind == engine.StepDone && !k.done.Swap(true) {
		k.kill()
	}
}

// fired says whether step at finished and the run was killed.
func (k *killAfter) fired() bool { return k.done.Load() }

// hostIP is the address the lab gives its i-th host (from .11).
func hostIP(subnet netip.Prefix, i int) netip.Addr {
	ip := subnet.Addr()
	for range 11 + i {
		ip = ip.Next()
	}
	return ip
}

// checkEtcd asks the real etcd, with the etcdctl of its own image, for its
// members: the 3 control planes, each started and voting, each healthy.
func checkEtcd(t testing.TB, ctx context.Context, kubectl func(host, args string) (string, error)) {
	t.Helper()
	const etcdctl = "-n kube-system exec etcd-cp-1 -- etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key "
	out, err := kubectl("cp-1", etcdctl+"member list -w json")
	if err != nil {
		t.Fatalf("etcd member list: %v\n%s", err, out)
	}
	var list struct {
		Members []struct {
			Name       string   `json:"name"`
			ClientURLs []string `json:"clientURLs"`
			IsLearner  bool     `json:"isLearner"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("etcd member list: %v\n%s", err, out)
	}
	var names []string
	for _, m := range list.Members {
		if len(m.ClientURLs) == 0 || m.IsLearner {
			t.Errorf("etcd member %q is not a started voting member: %+v", m.Name, m)
		}
		names = append(names, m.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, controlPlanes) {
		t.Errorf("etcd members %v, want %v", names, controlPlanes)
	}
	if out, err := kubectl("cp-1", etcdctl+"endpoint health --cluster"); err != nil || strings.Count(out, "is healthy") != 3 {
		t.Errorf("etcd endpoint health --cluster: %v\n%s", err, out)
	}
	t.Logf("etcd: %d started voting members %v", len(list.Members), names)
}

// checkNodes: every node Ready at the version, kube-proxy ready on each,
// CoreDNS ready.
func checkNodes(t testing.TB, ctx context.Context, kubectl func(host, args string) (string, error), version string) {
	t.Helper()
	out, err := kubectl("cp-1", `get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.status.nodeInfo.kubeletVersion}{"\n"}{end}'`)
	if err != nil {
		t.Fatalf("get nodes: %v\n%s", err, out)
	}
	var want []string
	for _, n := range slices.Concat(controlPlanes, workers) {
		want = append(want, n+" True "+version)
	}
	if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, want) {
		t.Errorf("nodes:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	out, err = kubectl("cp-1", "-n kube-system get daemonset kube-proxy -o jsonpath='{.status.numberReady}'")
	if err != nil || strings.TrimSpace(out) != "5" {
		t.Errorf("kube-proxy ready on %q nodes, want 5: %v", out, err)
	}
	out, err = kubectl("cp-1", "-n kube-system get deployment coredns -o jsonpath='{.status.readyReplicas}'")
	if err != nil || strings.TrimSpace(out) != "2" {
		pods, _ := kubectl("cp-1", "get pods -A -o wide")
		t.Errorf("CoreDNS ready replicas %q, want 2: %v\n%s", out, err, pods)
	}
}

// checkEndpoint: /readyz through the VIP, verified with the cluster CA for
// the endpoint name, from a client on the lab's network; on every node the
// name resolves to the VIP and /readyz answers through it.
func checkEndpoint(t testing.TB, ctx context.Context, l *lab.Lab, dir string, vip netip.Addr) {
	t.Helper()
	ca, err := execIn(ctx, l, "cp-1", "cat /etc/kubernetes/pki/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, []byte(ca), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "https://" + endpoint + ":6443/readyz"
	out, err := l.Exec(ctx, "client", "curl", "-sS", "--max-time", "5", "--cacert", caFile, "--resolve", endpoint+":6443:"+vip.String(), url)
	if strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("/readyz through the VIP %s: %q %v", vip, out, err)
	}
	for _, n := range slices.Concat(controlPlanes, workers) {
		out, err := execIn(ctx, l, n, "getent hosts "+endpoint+" | awk '{print $1}'; curl -sS --max-time 5 --cacert /etc/kubernetes/pki/ca.crt "+url)
		if want := vip.String() + "\nok"; strings.TrimSpace(out) != want || err != nil {
			t.Errorf("%s: %s resolves and answers %q, want %q: %v", n, endpoint, out, want, err)
		}
	}
}

// checkKubeconfig: the admin kubeconfig homelab wrote names the endpoint,
// mode 0600.
func checkKubeconfig(t testing.TB, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the admin kubeconfig: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v", path, fi.Mode())
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "server: https://"+endpoint+":6443\n") {
		t.Errorf("%s does not name https://%s:6443", path, endpoint)
	}
}

// checkFailover stops HAProxy on the VIP holder and checks that the VIP
// moves and that kubectl through the endpoint name keeps working.
func checkFailover(t testing.TB, ctx context.Context, l *lab.Lab, vip netip.Addr, kubeconfig string) {
	t.Helper()
	holders := func() []string {
		var out []string
		for _, lb := range loadBalancers {
			o, _ := l.Exec(ctx, lb, "ip", "-o", "addr", "show", "dev", "eth0")
			if strings.Contains(string(o), " "+vip.String()+"/") {
				out = append(out, lb)
			}
		}
		return out
	}
	h := holders()
	if len(h) != 1 {
		t.Fatalf("VIP holders: %v", h)
	}
	old := h[0]
	conf, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// The kubeconfig homelab wrote, on a worker (whose /etc/hosts homelab
	// pointed at the VIP).
	if out, err := execIn(ctx, l, "w-1", "cat > /root/e2e.kubeconfig <<'EOF'\n"+string(conf)+"EOF\nchmod 600 /root/e2e.kubeconfig"); err != nil {
		t.Fatalf("copy the kubeconfig to w-1: %v\n%s", err, out)
	}
	if _, err := l.Exec(ctx, old, "systemctl", "stop", "haproxy"); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	var now []string
	for time.Since(begin) < 30*time.Second {
		if now = holders(); len(now) == 1 && now[0] != old {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(now) != 1 || now[0] == old {
		t.Fatalf("the VIP did not move from %s within 30s: holders %v", old, now)
	}
	t.Logf("the VIP moved from %s to %s %s after HAProxy stopped", old, now[0], time.Since(begin).Round(100*time.Millisecond))
	for _, c := range []struct{ host, kubeconfig string }{{"cp-2", "/etc/kubernetes/admin.conf"}, {"w-1", "/root/e2e.kubeconfig"}} {
		var out string
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
			if out, err = execIn(ctx, l, c.host, "kubectl --kubeconfig "+c.kubeconfig+" get nodes --no-headers | wc -l"); err == nil && strings.TrimSpace(out) == "5" {
				break
			}
		}
		if err != nil || strings.TrimSpace(out) != "5" {
			t.Errorf("%s: kubectl --kubeconfig %s get nodes after the failover: %q %v", c.host, c.kubeconfig, out, err)
		}
	}
	if _, err := l.Exec(ctx, old, "systemctl", "start", "haproxy"); err != nil {
		t.Error(err)
	}
}

// diagnose collects what explains a failure on the control planes.
func diagnose(l *lab.Lab) string {
	var b strings.Builder
	images, _ := l.Exec(context.Background(), "cp-1", "bash", "-c",
		"ctr -n k8s.io images ls | grep etcd; ls -l /run/containerd/io.containerd.runtime.v2.task/k8s.io/*/rootfs/usr/local/bin/ 2>&1 | grep etcd")
	fmt.Fprintf(&b, "---- cp-1 etcd image and containers\n%s", images)
	for _, n := range slices.Concat(controlPlanes, workers) {
		out, _ := l.Exec(context.Background(), n, "bash", "-c",
			"systemctl --failed --no-legend; journalctl -u containerd -u kubelet --no-pager -n 200 | grep -v level=info | tail -n 15; crictl --runtime-endpoint unix:///run/containerd/containerd.sock ps -a 2>/dev/null")
		fmt.Fprintf(&b, "---- %s\n%s", n, out)
	}
	return b.String()
}
