package routeros

import "testing"

// matchQueries evaluates the query words homelab sends as RouterOS does:
// words AND together, ?#| ORs the two before it.
func TestMatchQueries(t *testing.T) {
	r := row{"name": "a", "address": "10.0.0.1", "dynamic": "true"}
	for _, c := range []struct {
		queries []string
		want    bool
		err     bool
	}{
		{nil, true, false},
		{[]string{"?name=a"}, true, false},
		{[]string{"?name=b"}, false, false},
		{[]string{"?name=a", "?dynamic=true"}, true, false},
		{[]string{"?name=a", "?dynamic=false"}, false, false},
		{[]string{"?name=b", "?address=10.0.0.1", "?#|"}, true, false},
		{[]string{"?name=b", "?address=10.0.0.2", "?#|"}, false, false},
		{[]string{"?name=b", "?address=10.0.0.2", "?#|", "?dynamic=true", "?#|"}, true, false},
		{[]string{"?comment="}, true, false},
		{[]string{"?#|"}, false, true},
		{[]string{"?name"}, false, true},
		{[]string{"?>name=a"}, false, true},
		{[]string{"?-name=a"}, false, true},
	} {
		got, err := matchQueries(r, c.queries)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("%q: %v %v, want %v (error %v)", c.queries, got, err, c.want, c.err)
		}
	}
}
