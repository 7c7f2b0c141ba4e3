// Package kubeversion reads Kubernetes release versions (1.35.4 or
// v1.35.4, the same release) and says which Kubernetes releases homelab
// builds clusters of: the minors the Kubernetes project supports, and the
// last one that reached its end of life, with a warning.
package kubeversion

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is an exact Kubernetes release: 1.35.4.
type Version struct {
	Major, Minor, Patch int
}

// SyntaxError is a version string that is not an exact Kubernetes release.
type SyntaxError struct {
	Input string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%q is not a Kubernetes release such as 1.35.4 or v1.35.4", e.Input)
}

// maxPart bounds each number so that no version overflows and no input
// is mistaken for a release it only looks like.
const maxPart = 1 << 20

// Parse reads an exact release: three decimal numbers without leading
// zeros, separated by dots, with an optional leading "v" (as kubeadm's
// kubernetesVersion and the pkgs.k8s.io package versions write it).
// Pre-releases (1.36.0-rc.1) and build metadata are refused: homelab
// installs released packages.
func Parse(s string) (Version, error) {
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(parts) != 3 {
		return Version{}, &SyntaxError{Input: s}
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 7 || (len(p) > 1 && p[0] == '0') || strings.Trim(p, "0123456789") != "" {
			return Version{}, &SyntaxError{Input: s}
		}
		v, err := strconv.Atoi(p)
		if err != nil || v >= maxPart {
			return Version{}, &SyntaxError{Input: s}
		}
		n[i] = v
	}
	return Version{Major: n[0], Minor: n[1], Patch: n[2]}, nil
}

// String returns the version as kubeadm's kubernetesVersion and the
// binaries' --version print it: v1.35.4.
func (v Version) String() string { return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Bare returns the version without the "v": 1.35.4.
func (v Version) Bare() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// MinorString returns the minor release: 1.35.
func (v Version) MinorString() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Compare returns -1, 0 or +1 as v is older than, the same as or newer
// than w.
func (v Version) Compare(w Version) int {
	for _, d := range [3]int{v.Major - w.Major, v.Minor - w.Minor, v.Patch - w.Patch} {
		switch {
		case d < 0:
			return -1
		case d > 0:
			return 1
		}
	}
	return 0
}
