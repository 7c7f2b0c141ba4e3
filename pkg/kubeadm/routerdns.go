package kubeadm

import (
	"context"
	"fmt"
	"io"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/routeros"
	"github.com/homelabctl/homelab/pkg/step"
)

// recordEntry is the router's static DNS record of the endpoint name
// (kubernetes.pin: router-dns), pointing at addr. The pin and the flip own
// the same entry: one comment, that of the pin step.
func recordEntry(inv *inventory.Inventory, addr string) routeros.Entry {
	return routeros.Entry{
		Menu:     "/ip/dns/static",
		Comment:  routeros.Comment(inv, PinRouterRecord),
		Identity: []string{"name"},
		Props:    []routeros.Prop{{Name: "name", Value: inv.Kubernetes.Endpoint}, {Name: "address", Value: addr}},
	}
}

// pinRecordWork creates the record pointing at master1, and leaves a
// record that exists alone: after the flip it points at the VIP, and a
// re-run must not point the cluster back at master1.
type pinRecordWork struct {
	entry routeros.EntryWork
}

func (w pinRecordWork) Observe(ctx context.Context) (step.Change, error) {
	c, err := w.entry.Observe(ctx)
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
	return w.entry.Apply(ctx, c, out)
}
