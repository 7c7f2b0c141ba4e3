package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// tokenHost is master1 answering `kubeadm token create` and `token list`
// as scripted; it counts the creations.
type tokenHost struct {
	mu      sync.Mutex
	creates int
	create  func(n int, token string) (remote.Result, error) // the nth creation, 1-based
	list    string
}

func (h *tokenHost) Run(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	fields := strings.Fields(cmd.Script)
	switch {
	case strings.HasPrefix(cmd.Script, "kubeadm token create "):
		h.mu.Lock()
		h.creates++
		n := h.creates
		h.mu.Unlock()
		time.Sleep(5 * time.Millisecond) // long enough for the other joins to arrive
		return h.create(n, fields[3])
	case cmd.Script == "kubeadm token list":
		return remote.Result{Stdout: []byte(h.list)}, nil
	}
	return remote.Result{ExitStatus: 127}, fmt.Errorf("unexpected command %q", cmd.Script)
}

func (h *tokenHost) Sync(context.Context, remote.File) (bool, error) { return false, nil }
func (h *tokenHost) Read(context.Context, string) ([]byte, error)    { return nil, errors.New("no") }
func (h *tokenHost) Close() error                                    { return nil }

func exitErr(stderr string) error {
	return &remote.ExitError{Host: "master-1", Command: "kubeadm token create *** --ttl 2h0m0s >/dev/null", Status: 1, Stderr: stderr}
}

// Joins that need the run's token at once create it once; kubeadm's
// answers are classified: the run's own token already there is success,
// an apiserver or etcd that did not answer is retryable, the rest fails.
func TestEnsureToken(t *testing.T) {
	created := func(int, string) (remote.Result, error) { return remote.Result{}, nil }
	exists := func(_ int, token string) (remote.Result, error) {
		id, _, _ := strings.Cut(token, ".")
		return remote.Result{ExitStatus: 1}, exitErr(fmt.Sprintf("error: a token with id %q already exists\nTo see the stack trace of this error execute with --v=5 or higher", id))
	}
	for _, tc := range []struct {
		name      string
		create    func(int, string) (remote.Result, error)
		listed    bool
		joins     int
		creates   int
		retryable bool
		err       string // "" for success
		out       string
	}{
		{"concurrent joins create once", created, false, 3, 1, false, "", "master-1: a new bootstrap token ("},
		{"already there and ours", exists, true, 1, 1, false, "", "exists already: an earlier attempt of this run created it"},
		{"already there, not ours", exists, false, 1, 1, false, "that this run did not create", ""},
		{"etcd timed out", func(int, string) (remote.Result, error) {
			return remote.Result{ExitStatus: 1}, exitErr("error: failed to create or update bootstrap token with name bootstrap-token-abcdef: unable to create *v1.Secret: etcdserver: request timed out")
		}, false, 1, 1, true, "etcdserver: request timed out", ""},
		{"apiserver refused", func(int, string) (remote.Result, error) {
			return remote.Result{ExitStatus: 1}, exitErr(`error: Get "https://10.0.0.21:6443/api/v1/namespaces/kube-system/secrets": dial tcp 10.0.0.21:6443: connect: connection refused`)
		}, false, 1, 1, true, "connection refused", ""},
		{"connection lost", func(int, string) (remote.Result, error) {
			return remote.Result{ExitStatus: -1}, step.Retryable(errors.New(`ssh master-1: "kubeadm token create ***": connection lost: EOF`))
		}, false, 1, 1, true, "connection lost", ""},
		{"no admin.conf", func(int, string) (remote.Result, error) {
			return remote.Result{ExitStatus: 1}, exitErr("error: failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory")
		}, false, 1, 1, false, "failed to load admin kubeconfig", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds := newCredentials(nil)
			h := &tokenHost{create: tc.create}
			if tc.listed {
				h.list = "TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION   EXTRA GROUPS\n" +
					creds.token + "   1h          2026-12-06T15:00:00Z   authentication,signing   <none>        system:bootstrappers:kubeadm:default-node-token\n"
			}
			w := joinWork{bootstrap: &bootstrap{master: &inventory.Guest{Name: "master-1"}, creds: creds}}
			var wg sync.WaitGroup
			var mu sync.Mutex
			var out strings.Builder
			errs := make([]error, tc.joins)
			for i := range tc.joins {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var b strings.Builder
					errs[i] = w.ensureToken(context.Background(), w.master, h, &b)
					mu.Lock()
					out.WriteString(b.String())
					mu.Unlock()
				}()
			}
			wg.Wait()
			if h.creates != tc.creates {
				t.Errorf("%d creations, want %d", h.creates, tc.creates)
			}
			for _, err := range errs {
				switch {
				case tc.err == "" && err != nil:
					t.Errorf("error: %v", err)
				case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
					t.Errorf("error %v, want one with %q", err, tc.err)
				case err != nil && step.IsRetryable(err) != tc.retryable:
					t.Errorf("retryable %v, want %v: %v", step.IsRetryable(err), tc.retryable, err)
				}
			}
			if !strings.Contains(out.String(), tc.out) || strings.Contains(out.String(), creds.token) {
				t.Errorf("output %q, want it to contain %q and no token", out.String(), tc.out)
			}
			if fresh, _ := creds.tokenFresh(); fresh != (tc.err == "") {
				t.Errorf("token fresh %v after %v", fresh, errs)
			}
		})
	}
	// A join waiting for its turn stops with its context.
	creds := newCredentials(nil)
	release, err := creds.tokenLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := joinWork{bootstrap: &bootstrap{master: &inventory.Guest{Name: "master-1"}, creds: creds}}
	if err := w.ensureToken(ctx, w.master, &tokenHost{create: nil}, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting for the turn: %v", err)
	}
	release()
}
