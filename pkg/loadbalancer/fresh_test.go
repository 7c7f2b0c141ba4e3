package loadbalancer

import (
	"context"
	"errors"
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// downHost is a load balancer that does not answer SSH: every operation
// fails as pkg/remote's dial does when it gives up (retryable).
type downHost struct{}

var errDown = step.Retryable(errors.New("ssh lb: gave up connecting"))

func (downHost) Run(context.Context, remote.Command) (remote.Result, error) {
	return remote.Result{ExitStatus: -1}, errDown
}
func (downHost) Sync(context.Context, remote.File) (bool, error) { return false, errDown }
func (downHost) Read(context.Context, string) ([]byte, error)    { return nil, errDown }
func (downHost) Close() error                                    { return nil }

// A plan made before the load balancers exist (the guests phase creates
// them) shows each step's change on a fresh host instead of failing; the
// engine observes again before it applies.
func TestObserveBeforeTheHostAnswers(t *testing.T) {
	inv := loadInventory(t, "small")
	p := Phase{Hosts: func(string) (remote.Host, error) { return downHost{}, nil },
		Secrets: func(inventory.SecretRef) (string, error) { return testAuthPass, nil }}
	steps, err := p.Steps(inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		got, err := s.Work.Observe(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", s.ID, err)
		}
		if s.Intent.Action == step.Run {
			continue // the VIP gate observes nothing
		}
		if got.Action != s.Intent.Action || len(got.Files) != len(s.Intent.Files) || len(got.Fields) != len(s.Intent.Fields) ||
			got.Reason != "lb-1 does not answer SSH yet: planned as a fresh host" && got.Reason != "lb-2 does not answer SSH yet: planned as a fresh host" {
			t.Errorf("%s: %+v, want the intent %+v", s.ID, got, s.Intent)
		}
	}
	// A command that ran and failed is not a host that does not answer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if remote.NotAnswering(ctx, errDown) {
		t.Error("a cancelled observation counts as a host that does not answer")
	}
	if remote.NotAnswering(context.Background(), &remote.ExitError{Status: 1}) {
		t.Error("a failed command counts as a host that does not answer")
	}
}
