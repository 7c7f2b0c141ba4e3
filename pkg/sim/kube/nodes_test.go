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
