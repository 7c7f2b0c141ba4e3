package step

import (
	"encoding/json"
	"testing"
)

// Every action has its own symbol and word, survives JSON, and says
// whether it changes, creates or deletes something. A replace is a delete
// and a create.
func TestActions(t *testing.T) {
	for _, tc := range []struct {
		a                        Action
		symbol, name             string
		changes, creates, delete bool
	}{
		{None, "=", "none", false, false, false},
		{Create, "+", "create", true, true, false},
		{Update, "~", "update", true, false, false},
		{Delete, "-", "delete", true, false, true},
		{Run, ">", "run", false, false, false},
		{Conflict, "!", "conflict", false, false, false},
		{Replace, "-/+", "replace", true, true, true},
	} {
		if got := tc.a.String(); got != tc.symbol {
			t.Errorf("%s: symbol %q, want %q", tc.name, got, tc.symbol)
		}
		if got := tc.a.Name(); got != tc.name {
			t.Errorf("%s: name %q", tc.name, got)
		}
		if tc.a.Changes() != tc.changes || tc.a.Creates() != tc.creates || tc.a.Deletes() != tc.delete {
			t.Errorf("%s: changes %v creates %v deletes %v", tc.name, tc.a.Changes(), tc.a.Creates(), tc.a.Deletes())
		}
		b, err := json.Marshal(tc.a)
		if err != nil || string(b) != `"`+tc.name+`"` {
			t.Fatalf("%s: JSON %s, %v", tc.name, b, err)
		}
		var back Action
		if err := json.Unmarshal(b, &back); err != nil || back != tc.a {
			t.Errorf("%s: read back as %v, %v", tc.name, back, err)
		}
	}
	if n := len(Actions()); n != 7 {
		t.Errorf("Actions() has %d actions, the table 7", n)
	}
	if _, err := ParseAction("rebuild"); err == nil {
		t.Error("ParseAction accepted an unknown action")
	}
}
