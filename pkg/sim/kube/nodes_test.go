package kube_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/kube"
)

// smallCluster is master-1 initialised and worker-1 joined.
func smallCluster(t *testing.T) *kubeLab {
	t.Helper()
	now := time.Now()
	l := newKubeLab(t, kube.Options{Now: func() time.Time { return now }}, "master-1", "master-2", "worker-1")
	for _, n := range []string{"master-1", "master-2", "worker-1"} {
		l.prepare(n)
		l.pin(n, addrs["master-1"])
	}
	l.put("master-1", "/etc/kubernetes/homelab/init.yaml", initConfig("master-1"))
	l.must("master-1", initCmd)
	l.put("worker-1", "/etc/kubernetes/homelab/join.yaml", joinConfig("worker-1", token, l.caPin(), "", false))
	l.must("worker-1", joinCmd)
	return l
}

// `kubectl get node NAME` prints NAME's row only, and a name the cluster
// does not have is kubectl's NotFound with exit 1 (k8s.io/kubectl
// pkg/cmd/get/get.go; apimachinery's NewNotFound).
func TestGetNodeByName(t *testing.T) {
	l := smallCluster(t)
	row := func(name, roles string) string { return name + ` +NotReady +` + roles + ` +\d+s +v1\.31\.4\n` }
	header := `NAME +STATUS +ROLES +AGE +VERSION\n`
	for _, tc := range []struct {
		args, stdout, stderr string
		status               int
	}{
		{"get node worker-1", "^" + header + row("worker-1", "<none>") + "$", "^$", 0},
		{"get nodes worker-1 --no-headers", "^" + row("worker-1", "<none>") + "$", "^$", 0},
		{"get no master-1", "^" + header + row("master-1", "control-plane") + "$", "^$", 0},
		{"get nodes", "^" + header + row("master-1", "control-plane") + row("worker-1", "<none>") + "$", "^$", 0},
		{"get node worker-2", "^$", `^Error from server \(NotFound\): nodes "worker-2" not found\n$`, 1},
		{"get node worker-2 --no-headers", "^$", `^Error from server \(NotFound\): nodes "worker-2" not found\n$`, 1},
		{"get nodes worker-1 worker-2", "^" + header + row("worker-1", "<none>") + "$", `^Error from server \(NotFound\): nodes "worker-2" not found\n$`, 1},
	} {
		st, out, errs := l.ssh("master-1", kubectl+tc.args)
		if st != tc.status || !regexp.MustCompile(tc.stdout).MatchString(out) || !regexp.MustCompile(tc.stderr).MatchString(errs) {
			t.Errorf("kubectl %s: exit %d (want %d)\nstdout: %q (want %s)\nstderr: %q (want %s)", tc.args, st, tc.status, out, tc.stdout, errs, tc.stderr)
		}
	}
}

// Creating the same bootstrap token from several nodes at once: one
// creation succeeds, every other is refused with kubeadm's words; with
// etcd out of quorum the creation fails with the wrapped API error.
func TestTokenCreateOnce(t *testing.T) {
	l := smallCluster(t)
	l.put("master-2", "/etc/kubernetes/admin.conf", l.must("master-1", "cat /etc/kubernetes/admin.conf"))
	const tok = "qwerty.0123456789abcdef"
	var mu sync.Mutex
	var ok, refused int
	var wg sync.WaitGroup
	for _, n := range []string{"master-1", "master-2", "master-1", "master-2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, out, errs := l.ssh(n, "kubeadm token create "+tok+" --ttl 2h0m0s")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case st == 0 && out == tok+"\n":
				ok++
			case st == 1 && strings.HasPrefix(errs, `error: a token with id "qwerty" already exists`+"\n"):
				refused++
			default:
				t.Errorf("%s: token create: exit %d\nstdout: %s\nstderr: %s", n, st, out, errs)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || refused != 3 {
		t.Errorf("%d created, %d refused; want 1 and 3", ok, refused)
	}
	if list := l.must("master-1", "kubeadm token list"); !strings.Contains(list, tok+" ") {
		t.Errorf("token list lacks the token:\n%s", list)
	}

	// Out of quorum: master-1's member stopped.
	var buf bytes.Buffer
	if err := l.sim.Save(&buf); err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	json.Unmarshal(buf.Bytes(), &st)
	for _, m := range st["cluster"].(map[string]any)["Members"].([]any) {
		m.(map[string]any)["Started"] = false
	}
	b, _ := json.Marshal(st)
	if err := l.sim.Load(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	l.fails("master-1", "kubeadm token create zxcvbn.0123456789abcdef --ttl 2h0m0s", 1,
		"error: failed to create or update bootstrap token with name bootstrap-token-zxcvbn: unable to create *v1.Secret: etcdserver: request timed out")
}

// Every Node gets the next /24 of kubeadm's podSubnet when it registers
// (kube-controller-manager's range allocator), read with a jsonpath; a
// node is Ready only once its host has a CNI configuration libcni
// accepts (kubelet's NetworkNotReady otherwise).
func TestPodCIDRAndNetworkReady(t *testing.T) {
	l := smallCluster(t)
	for node, want := range map[string]string{"master-1": "10.244.0.0/24", "worker-1": "10.244.1.0/24"} {
		if got := l.must("master-1", kubectl+"get node "+node+" -o jsonpath='{.spec.podCIDR}'"); got != want {
			t.Errorf("%s: spec.podCIDR %q, want %q", node, got, want)
		}
	}
	status := func() string { return l.must("master-1", kubectl+"get nodes --no-headers") }
	notReady := regexp.MustCompile(`(?m)^master-1 +NotReady .*\nworker-1 +NotReady `)
	if s := status(); !notReady.MatchString(s) {
		t.Fatalf("without a CNI configuration both nodes must be NotReady:\n%s", s)
	}
	const conflist = `{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap"}]}`
	// libcni refuses these: no plugins, a plugin without a type, no name.
	for _, bad := range []string{`{"cniVersion":"1.0.0","name":"n","plugins":[]}`,
		`{"cniVersion":"1.0.0","name":"n","plugins":[{"bridge":"cni0"}]}`, `{"plugins":[{"type":"bridge"}]}`, `not json`} {
		l.put("master-1", "/etc/cni/net.d/10-x.conflist", bad)
		if s := status(); !notReady.MatchString(s) {
			t.Fatalf("with the invalid conflist %s master-1 must stay NotReady:\n%s", bad, s)
		}
	}
	l.put("worker-1", "/etc/cni/net.d/10-x.conflist", conflist)
	if s := status(); !regexp.MustCompile(`(?m)^master-1 +NotReady .*\nworker-1 +Ready `).MatchString(s) {
		t.Fatalf("worker-1 has a valid conflist: it must be Ready, master-1 not:\n%s", s)
	}
	// master-2 joins after them: the next block.
	l.put("master-2", "/etc/kubernetes/homelab/join.yaml", joinConfig("master-2", token, l.caPin(), "", false))
	l.must("master-2", joinCmd)
	if got := l.must("master-1", kubectl+"get node master-2 -o jsonpath={.spec.podCIDR}"); got != "10.244.2.0/24" {
		t.Errorf("master-2: spec.podCIDR %q, want 10.244.2.0/24", got)
	}
}
