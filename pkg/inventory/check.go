package inventory

import (
	"context"
	"fmt"
)

// Validate checks an inventory built or edited in memory as Load checks
// a file, and completes it as Load does: authorized_keys of ssh blocks
// not resolved yet are read (Keys), defaults and derived values left
// unset are filled in (MACs, priorities, startup orders, ...), then every
// rule is checked. It returns every diagnostic, warnings included, and a
// *ValidationError when any is an error.
//
// Positions come from the file the inventory was loaded from, by field
// path (guests[3].vmid); a field the file did not have takes its nearest
// parent's, and an inventory built in memory (no Source.Path) has none:
// its diagnostics name the field alone. After an edit that moves entries
// (a guest removed before others), a position is where that path was in
// the file. Unlike Load, every string is checked against its grammar,
// defaulted or inherited ones too, so a value set in memory is never
// taken on trust.
func Validate(ctx context.Context, inv *Inventory) (Diagnostics, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("validate inventory %s: %w", inv.Name, err)
	}
	// What Load read is reported again (its warnings) and not read twice.
	diags := unresolvedWarnings(inv)
	diags = append(diags, resolveKeysIf(ctx, inv, unresolvedBlock)...)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("validate inventory %s: %w", inv.Name, err)
	}
	applyDefaults(inv)
	diags = append(diags, check(inv, true)...)
	diags.sort()
	return diags, diags.Err()
}

// Check reports every problem of inv without changing it: the
// rules of Validate, on the values as they are (no defaults filled in,
// no files read). Plans refuse an inventory Check finds errors in.
func (inv *Inventory) Check() Diagnostics {
	diags := check(inv, true)
	diags.sort()
	return diags
}

// unresolvedBlock reports whether an ssh block's authorized_keys were
// never resolved: it has entries, and neither keys nor unreadable files.
func unresolvedBlock(s *SSH) bool {
	return len(s.AuthorizedKeys) > 0 && s.Keys == nil && s.unresolved == nil
}

// unresolvedWarnings are Load's warnings about the authorized_keys files
// that could not be read, once per entry (guests share the defaults').
func unresolvedWarnings(inv *Inventory) Diagnostics {
	var diags Diagnostics
	seen := map[string]bool{}
	add := func(s *SSH) {
		if s == nil {
			return
		}
		for _, u := range s.unresolved {
			if !seen[u.field] {
				seen[u.field] = true
				diags = append(diags, Diagnostic{Pos: inv.Source.Pos(u.field), Field: u.field, Severity: SeverityWarning,
					Message: fmt.Sprintf("%s cannot be read here (%s): commands that create guests stop until it can", u.ref, u.reason)})
			}
		}
	}
	add(inv.Defaults.VM.SSH)
	add(inv.Defaults.LXC.SSH)
	for i := range inv.Guests {
		add(inv.Guests[i].SSH)
	}
	return diags
}
