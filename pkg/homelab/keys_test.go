package homelab_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
)

// An authorized_keys file that cannot be read is a warning when the
// inventory is loaded, but a plan of the real lab that would create guests
// without it is refused, naming the entry's position. The simulated lab
// (its own key) and plan --offline go on.
func TestPlanRefusesGuestsWithoutTheirKeyFile(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh/id_ed25519.pub
	inv, diags, err := Load(context.Background(), "../../inventories/small.yaml")
	if err != nil || len(diags.Warnings()) != 1 {
		t.Fatalf("load: %v, diagnostics %v", err, diags)
	}
	file, err := plan.LoadFile("../../plans/guests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lab := guestsLab(t, inv)
	ctx := context.Background()
	if _, err := Plan(ctx, inv, file, PlanOptions{Offline: true}); err != nil {
		t.Errorf("offline: %v", err)
	}
	if _, err := Plan(ctx, inv, file, PlanOptions{Clients: lab.Clients()}); err != nil {
		t.Errorf("simulated lab: %v", err)
	}
	real := lab.Clients()
	real.AuthorizedKeysOptional = false // as Connect makes them
	_, err = Plan(ctx, inv, file, PlanOptions{Clients: real})
	var verr *inventory.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("real lab: err = %v, want a *inventory.ValidationError", err)
	}
	want := "../../inventories/small.yaml:50:25: defaults.vm.ssh.authorized_keys[0]: file:~/.ssh/id_ed25519.pub cannot be read"
	if len(verr.Diagnostics) != 1 || !strings.HasPrefix(verr.Diagnostics[0].String(), want) {
		t.Errorf("real lab: %v, want %q...", err, want)
	}
}
