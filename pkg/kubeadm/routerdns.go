package kubeadm

import (
	"context"
	"fmt"
	"io"

	"github.com/homelabctl/homelab/pkg/step"
)

// With kubernetes.pin: router-dns the pin and the flip own the same record
// on the router: one entry, marked as owned by the pin step.

// pinRecordWork creates the record pointing at master1, and leaves a
// record that exists alone: after the flip it points at the VIP, and a
// re-run must not point the cluster back at master1.
type pinRecordWork struct {
	record step.Work
}

func (w pinRecordWork) Observe(ctx context.Context) (step.Change, error) {
	c, err := w.record.Observe(ctx)
	if err == nil && c.Action == step.Update {
		return step.Change{Action: step.None, Reason: "the record exists; the flip moves it"}, nil
	}
	return c, err
}

func (w pinRecordWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	c, err := w.Observe(ctx)
	switch {
	case err != nil:
		return err
	case c.Action == step.None:
		return nil
	case c.Action == step.Conflict:
		return fmt.Errorf("%s", c.Reason)
	}
	return w.record.Apply(ctx, c, out)
}
