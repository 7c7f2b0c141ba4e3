package homelab_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
)

// An inventory edited in memory with a duplicate vmid: Validate reports
// it as loading the file would (position included), and Plan refuses it
// instead of compiling two guests onto one vmid.
func TestValidateAndPlanRefuseADuplicateVMID(t *testing.T) {
	ctx := context.Background()
	inv := loadInventory(t, "../../inventories/small.yaml")
	file, err := LoadPlanFile("../../plans/full-stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(ctx, inv, file, PlanOptions{Offline: true}); err != nil {
		t.Fatalf("the inventory as loaded: %v", err)
	}
	inv.Guests[1].VMID = inv.Guests[0].VMID
	want := `../../inventories/small.yaml:`
	wantMsg := `guests[1].vmid: vmid "` + itoa(inv.Guests[0].VMID) + `" is already used by guests[0].vmid on line `

	diags, err := Validate(ctx, inv)
	var verr *inventory.ValidationError
	if !errors.As(err, &verr) || len(verr.Diagnostics) != 1 {
		t.Fatalf("Validate: %v, want one *inventory.ValidationError", err)
	}
	if d := verr.Diagnostics[0].String(); !strings.HasPrefix(d, want) || !strings.Contains(d, wantMsg) || verr.Diagnostics[0].Pos.Line < 2 {
		t.Errorf("Validate: %s, want %s<line>:<col>: %s...", d, want, wantMsg)
	}
	if len(diags.Errors()) != 1 {
		t.Errorf("diagnostics: %v", diags)
	}

	_, err = Plan(ctx, inv, file, PlanOptions{Offline: true})
	if !errors.As(err, &verr) || verr.Diagnostics[0].String() != diags.Errors()[0].String() {
		t.Errorf("Plan: %v, want the diagnostic of Validate", err)
	}
}
