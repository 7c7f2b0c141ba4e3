package kubeversion

import (
	"fmt"
	"strings"
)

// Status is what homelab makes of a Kubernetes minor.
type Status int

// Statuses.
const (
	// Unsupported minors are refused: homelab neither renders nor tests
	// their configuration.
	Unsupported Status = iota
	// Supported minors are supported by the Kubernetes project and
	// accepted without comment.
	Supported
	// EndOfLife minors have reached their upstream end of life but are
	// still accepted, with a warning, so that a lab can move off them.
	EndOfLife
)

// Release is a Kubernetes minor homelab builds clusters of, with its
// upstream end of life (kubernetes.io/releases/1.NN).
type Release struct {
	Minor int
	// EndOfLife is the day the Kubernetes project stops patching the
	// minor, YYYY-MM-DD.
	EndOfLife string
	Status    Status
}

// AsOf is the day the release table was last checked against
// kubernetes.io/releases.
const AsOf = "2026-12-06"

// Releases returns the minors homelab accepts, oldest first, as of AsOf:
// 1.35, 1.36 and 1.37 are supported upstream; 1.34 reached its end of life
// on 2026-10-27 and is accepted with a warning. Each minor's kubeadm
// configuration is kubeadm.k8s.io/v1beta4.
func Releases() []Release {
	return []Release{
		{Minor: 34, EndOfLife: "2026-10-27", Status: EndOfLife},
		{Minor: 35, EndOfLife: "2027-02-28", Status: Supported},
		{Minor: 36, EndOfLife: "2027-06-28", Status: Supported},
		{Minor: 37, EndOfLife: "2027-10-28", Status: Supported},
	}
}

// Lookup returns the release of v's minor, and Unsupported with ok false
// when homelab does not accept it.
func Lookup(v Version) (r Release, ok bool) {
	if v.Major != 1 {
		return Release{Minor: v.Minor}, false
	}
	for _, r := range Releases() {
		if r.Minor == v.Minor {
			return r, true
		}
	}
	return Release{Minor: v.Minor}, false
}

// Newest returns the newest minor homelab accepts.
func Newest() int { rs := Releases(); return rs[len(rs)-1].Minor }

// Oldest returns the oldest minor homelab accepts.
func Oldest() int { return Releases()[0].Minor }

// UnsupportedError is a release of a minor homelab does not accept.
type UnsupportedError struct {
	Version Version
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("Kubernetes %s is not accepted: %s", e.Version.Bare(), Accepted())
}

// Accepted says which minors homelab accepts, for messages and docs:
// "homelab accepts Kubernetes 1.35, 1.36 and 1.37 (supported upstream) and
// 1.34 (end of life since 2026-10-27, with a warning)".
func Accepted() string {
	var sup, eol []string
	for _, r := range Releases() {
		switch r.Status {
		case Supported:
			sup = append(sup, fmt.Sprintf("1.%d", r.Minor))
		case EndOfLife:
			eol = append(eol, fmt.Sprintf("1.%d (end of life since %s, with a warning)", r.Minor, r.EndOfLife))
		}
	}
	s := "homelab accepts Kubernetes " + list(sup) + " (supported upstream)"
	if len(eol) > 0 {
		s += " and " + list(eol)
	}
	return s
}

// list joins items as "a, b and c".
func list(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// Check says what homelab makes of v: an *UnsupportedError for a minor it
// does not accept, and for an accepted minor past its end of life a
// warning that names the day.
func Check(v Version) (warning string, err error) {
	r, ok := Lookup(v)
	if !ok {
		return "", &UnsupportedError{Version: v}
	}
	if r.Status == EndOfLife {
		return fmt.Sprintf("Kubernetes 1.%d reached its upstream end of life on %s and gets no more security fixes; move to 1.%d", r.Minor, r.EndOfLife, Newest()), nil
	}
	return "", nil
}
