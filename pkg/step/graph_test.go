package step

import (
	"errors"
	"slices"
	"testing"
)

func steps(spec ...[]string) []*Step {
	var out []*Step
	for _, s := range spec {
		st := &Step{ID: ID(s[0])}
		for _, n := range s[1:] {
			st.Needs = append(st.Needs, ID(n))
		}
		out = append(out, st)
	}
	return out
}

func TestGraphOrderRespectsNeedsAndInsertionOrder(t *testing.T) {
	g, err := NewGraph(steps(
		[]string{"c", "b"},
		[]string{"a"},
		[]string{"b", "a"},
		[]string{"d"},
		[]string{"e", "c", "d"},
	))
	if err != nil {
		t.Fatal(err)
	}
	var got []ID
	for _, s := range g.Order() {
		got = append(got, s.ID)
	}
	want := []ID{"a", "b", "c", "d", "e"}
	if !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	if deps := g.Dependents("a"); !slices.Equal(deps, []ID{"b"}) {
		t.Errorf("dependents of a = %v", deps)
	}
	if edges := g.Edges(); len(edges) != 4 || edges[0] != (Edge{From: "b", To: "c"}) {
		t.Errorf("edges = %v", edges)
	}
	if g.Index("d") != 3 || g.Index("zz") != -1 {
		t.Errorf("index wrong")
	}
}

func TestGraphRejects(t *testing.T) {
	tests := []struct {
		name  string
		steps []*Step
		want  string
	}{
		{"duplicate", steps([]string{"a"}, []string{"a"}), "step a: defined twice"},
		{"unknown need", steps([]string{"a", "zz"}), "step a: needs zz, which is not in the graph"},
		{"self", steps([]string{"a", "a"}), "cycle of needs: a -> a"},
		{"empty id", []*Step{{Description: "x"}}, "step 0 (x): empty ID"},
		{"cycle of three", steps(
			[]string{"x"},
			[]string{"c", "b"},
			[]string{"a", "c", "x"},
			[]string{"b", "a"},
		), "cycle of needs: c -> a -> b -> c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewGraph(tt.steps)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// The cycle is spelled out the same way whatever the order of needs.
func TestCycleIsDeterministic(t *testing.T) {
	first := ""
	for range 20 {
		_, err := NewGraph(steps(
			[]string{"p", "r"},
			[]string{"q", "p"},
			[]string{"r", "q"},
		))
		var ce *CycleError
		if !errors.As(err, &ce) {
			t.Fatalf("want a CycleError, got %v", err)
		}
		if first == "" {
			first = err.Error()
		}
		if err.Error() != first {
			t.Fatalf("cycle reported as %q, then %q", first, err)
		}
	}
	if first != "cycle of needs: p -> q -> r -> p" {
		t.Fatalf("cycle = %q", first)
	}
}

func TestRetryable(t *testing.T) {
	base := errors.New("got timeout")
	if IsRetryable(base) {
		t.Fatal("an unmarked error is not retryable")
	}
	wrapped := errors.Join(errors.New("clone"), Retryable(base))
	if !IsRetryable(wrapped) || !errors.Is(wrapped, base) {
		t.Fatal("a marked error stays retryable and unwraps through wrapping")
	}
	if Retryable(nil) != nil {
		t.Fatal("Retryable(nil) must be nil")
	}
}

func TestActionSymbolsAndJSON(t *testing.T) {
	want := map[Action][2]string{None: {"=", "none"}, Create: {"+", "create"}, Update: {"~", "update"},
		Delete: {"-", "delete"}, Run: {">", "run"}, Conflict: {"!", "conflict"}}
	for a, w := range want {
		if a.String() != w[0] || a.Name() != w[1] {
			t.Errorf("%d: %s %s", a, a, a.Name())
		}
		b, _ := a.MarshalJSON()
		var back Action
		if err := back.UnmarshalJSON(b); err != nil || back != a {
			t.Errorf("round trip of %s: %v %v", a.Name(), back, err)
		}
	}
	var a Action
	if err := a.UnmarshalJSON([]byte(`"explode"`)); err == nil {
		t.Error("unknown action accepted")
	}
	if Conflict.Changes() || None.Changes() || Run.Changes() || !Update.Changes() {
		t.Error("Changes wrong")
	}
}
