package kubeversion

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		bad  bool
	}{
		{in: "1.35.4", want: Version{1, 35, 4}},
		{in: "v1.35.4", want: Version{1, 35, 4}},
		{in: "1.32.2", want: Version{1, 32, 2}},
		{in: "v1.32.2", want: Version{1, 32, 2}},
		{in: "1.37.0", want: Version{1, 37, 0}},
		{in: "0.0.0", want: Version{0, 0, 0}},
		{in: "2.1.10", want: Version{2, 1, 10}},
		{in: "", bad: true},
		{in: "v", bad: true},
		{in: "1.35", bad: true},
		{in: "v1.35", bad: true},
		{in: "1.35.4.1", bad: true},
		{in: "1.35.", bad: true},
		{in: ".35.4", bad: true},
		{in: "vv1.35.4", bad: true},
		{in: "V1.35.4", bad: true},
		{in: " 1.35.4", bad: true},
		{in: "1.35.4 ", bad: true},
		{in: "1.035.4", bad: true},
		{in: "01.35.4", bad: true},
		{in: "1.35.04", bad: true},
		{in: "1.35.-4", bad: true},
		{in: "1.35.+4", bad: true},
		{in: "1.36.0-rc.1", bad: true},
		{in: "1.36.0+build", bad: true},
		{in: "1.35.4-1.1", bad: true},
		{in: "1.99999999999999999999.0", bad: true},
		{in: "1.1048576.0", bad: true},
		{in: "1.٣٥.4", bad: true},
	} {
		got, err := Parse(tc.in)
		if tc.bad {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Input != tc.in {
				t.Errorf("Parse(%q) = %v, %v; want a *SyntaxError for it", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestVAndBareAreTheSame: the inventory's kubernetes.version may be
// written either way and means one release.
func TestVAndBareAreTheSame(t *testing.T) {
	a, err1 := Parse("v1.32.2")
	b, err2 := Parse("1.32.2")
	if err1 != nil || err2 != nil || a != b || a.Compare(b) != 0 {
		t.Fatalf("v1.32.2 = %v (%v), 1.32.2 = %v (%v): want the same release", a, err1, b, err2)
	}
}

func TestFormats(t *testing.T) {
	v := Version{1, 35, 4}
	if v.String() != "v1.35.4" || v.Bare() != "1.35.4" || v.MinorString() != "1.35" {
		t.Fatalf("String %q Bare %q MinorString %q", v.String(), v.Bare(), v.MinorString())
	}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b Version
		want int
	}{
		{Version{1, 35, 4}, Version{1, 35, 4}, 0},
		{Version{1, 35, 4}, Version{1, 35, 10}, -1},
		{Version{1, 36, 0}, Version{1, 35, 10}, 1},
		{Version{2, 0, 0}, Version{1, 99, 99}, 1},
		{Version{1, 9, 0}, Version{1, 10, 0}, -1},
	} {
		if got := tc.a.Compare(tc.b); got != tc.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := tc.b.Compare(tc.a); got != -tc.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in          string
		warn        string // a substring of the warning, "" for none
		unsupported bool
	}{
		{in: "1.35.4"},
		{in: "v1.36.1"},
		{in: "1.37.2"},
		{in: "1.34.2", warn: "Kubernetes 1.34 reached its upstream end of life on 2026-10-27"},
		{in: "1.33.10", unsupported: true},
		{in: "1.31.4", unsupported: true},
		{in: "1.29.0", unsupported: true},
		{in: "1.38.0", unsupported: true},
		{in: "2.35.0", unsupported: true},
		{in: "0.35.0", unsupported: true},
	} {
		v, err := Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		warn, err := Check(v)
		var ue *UnsupportedError
		switch {
		case tc.unsupported:
			if !errors.As(err, &ue) || ue.Version != v || warn != "" {
				t.Errorf("Check(%s) = %q, %v; want an *UnsupportedError", tc.in, warn, err)
				continue
			}
			for _, want := range []string{"Kubernetes " + v.Bare() + " is not accepted", "1.35, 1.36 and 1.37 (supported upstream)", "1.34 (end of life since 2026-10-27, with a warning)"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Check(%s): %q does not say %q", tc.in, err, want)
				}
			}
		case err != nil:
			t.Errorf("Check(%s) = %v, want it accepted", tc.in, err)
		case tc.warn == "" && warn != "":
			t.Errorf("Check(%s) warns %q, want no warning", tc.in, warn)
		case !strings.Contains(warn, tc.warn):
			t.Errorf("Check(%s) warns %q, want %q", tc.in, warn, tc.warn)
		}
	}
}

// TestReleases: the table is ordered, without gaps, its newest minor
// supported and its dates well formed and rising.
func TestReleases(t *testing.T) {
	rs := Releases()
	if len(rs) == 0 || rs[len(rs)-1].Status != Supported {
		t.Fatalf("Releases() = %v: want the newest minor supported", rs)
	}
	for i, r := range rs {
		if len(r.EndOfLife) != len("2006-01-02") || r.EndOfLife[4] != '-' || r.EndOfLife[7] != '-' {
			t.Errorf("1.%d: end of life %q is not YYYY-MM-DD", r.Minor, r.EndOfLife)
		}
		if r.Status == Unsupported {
			t.Errorf("1.%d: listed as Unsupported; the table holds accepted minors", r.Minor)
		}
		if i > 0 && (r.Minor != rs[i-1].Minor+1 || r.EndOfLife <= rs[i-1].EndOfLife) {
			t.Errorf("1.%d after 1.%d: want consecutive minors with later ends of life", r.Minor, rs[i-1].Minor)
		}
		if i > 0 && r.Status == EndOfLife && rs[i-1].Status == Supported {
			t.Errorf("1.%d is past its end of life but the older 1.%d is supported", r.Minor, rs[i-1].Minor)
		}
		if r.EndOfLife > AsOf && r.Status == EndOfLife || r.EndOfLife <= AsOf && r.Status == Supported {
			t.Errorf("1.%d: end of life %s and status %d disagree as of %s", r.Minor, r.EndOfLife, r.Status, AsOf)
		}
	}
	if Oldest() != rs[0].Minor || Newest() != rs[len(rs)-1].Minor {
		t.Errorf("Oldest %d Newest %d, table %v", Oldest(), Newest(), rs)
	}
}

// FuzzParse: Parse never panics; what it accepts prints back as it was
// given (with or without the "v") and parses again to the same release.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.35.4", "v1.32.2", "1.36.0-rc.1", "01.2.3", "v", "1..2", "1.2.3.4", "9999999.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): %v is not a *SyntaxError", s, err)
			}
			return
		}
		if s != v.String() && s != v.Bare() {
			t.Fatalf("Parse(%q) = %v, which prints as %q / %q", s, v, v.String(), v.Bare())
		}
		if w, err := Parse(v.String()); err != nil || w != v {
			t.Fatalf("Parse(%q) = %v, %v; want %v", v.String(), w, err, v)
		}
		if v.Major < 0 || v.Minor < 0 || v.Patch < 0 {
			t.Fatalf("Parse(%q) = %v: negative", s, v)
		}
	})
}
