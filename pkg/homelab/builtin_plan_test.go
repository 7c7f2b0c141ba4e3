package homelab_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/plan"
)

// A saved plan of a built-in plan is refused when this homelab's built-in
// plan is not the one it was made with, saying so; nothing is observed.
func TestApplyRefusesAnotherBuiltinPlan(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	file, err := plan.Open("network")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(context.Background(), inv, file, PlanOptions{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if !p.PlanFile.Builtin || p.PlanFile.Path != "" || p.HomelabVersion != Version {
		t.Fatalf("plan file %+v, homelab %q", p.PlanFile, p.HomelabVersion)
	}
	saved := savedPlan(t, p)
	saved.PlanFile.Digest = "sha256:0"
	saved.HomelabVersion = "v0.0.1"
	_, _, err = Apply(context.Background(), saved, ApplyOptions{})
	var se *StalePlanError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "the built-in plan network of this homelab ("+Version+") differs from the one the plan was made with (homelab v0.0.1)") {
		t.Fatalf("err = %v", err)
	}
}
