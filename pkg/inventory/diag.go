package inventory

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a position in a file.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Known reports whether p is a position in a file.
func (p Pos) Known() bool { return p.File != "" || p.Line != 0 }

// Severity says whether a diagnostic stops the inventory from being used.
type Severity int

// Severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// Diagnostic is one problem found in an inventory, at a position, about a
// field (a path such as guests[3].ip).
type Diagnostic struct {
	Pos      Pos
	Field    string
	Message  string
	Severity Severity
}

// String formats the diagnostic as file:line:col: field: message.
// A diagnostic without a position (an inventory built in memory) is
// field: message.
func (d Diagnostic) String() string {
	where := d.Field
	if d.Pos.Known() {
		where = d.Pos.String() + ": " + d.Field
	}
	if d.Severity == SeverityWarning {
		return fmt.Sprintf("%s: warning: %s", where, d.Message)
	}
	return fmt.Sprintf("%s: %s", where, d.Message)
}

// Diagnostics is a list of problems.
type Diagnostics []Diagnostic

// Errors returns the diagnostics that are errors.
func (ds Diagnostics) Errors() Diagnostics { return ds.filter(SeverityError) }

// Warnings returns the diagnostics that are warnings.
func (ds Diagnostics) Warnings() Diagnostics { return ds.filter(SeverityWarning) }

func (ds Diagnostics) filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// Err returns a *ValidationError holding the errors, or nil when there are none.
func (ds Diagnostics) Err() error {
	errs := ds.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Diagnostics: errs}
}

func (ds Diagnostics) sort() {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col), cmp.Compare(a.Field, b.Field))
	})
}

// ValidationError is every error found in an inventory.
type ValidationError struct {
	Diagnostics Diagnostics
}

// Error lists the first MaxShown diagnostics, one a line, and counts the
// rest; the Diagnostics field holds them all.
func (e *ValidationError) Error() string {
	return strings.Join(e.Diagnostics.Lines(MaxShown), "\n")
}

// MaxShown is how many diagnostics a ValidationError's message and the
// command line show; the rest are counted ("... and 12 more").
const MaxShown = 50

// Lines formats at most limit diagnostics, one a line, and a last line
// that counts the rest ("... and K more problems") when there are more.
func (ds Diagnostics) Lines(limit int) []string {
	n := min(len(ds), max(limit, 0))
	lines := make([]string, 0, n+1)
	for _, d := range ds[:n] {
		lines = append(lines, d.String())
	}
	if rest := len(ds) - n; rest > 0 {
		lines = append(lines, fmt.Sprintf("... and %d more", rest))
	}
	return lines
}

// Source is where an inventory was read from, with the position of every
// field path, so later checks can point at the line that caused them.
type Source struct {
	Path string
	// Digest is "sha256:<hex>" of the file's bytes.
	Digest    string
	positions map[string]Pos
}

// Pos returns the position of a field path such as guests[3].ip, or of
// its nearest parent that has one, or the file's first line; for an
// inventory built in memory (no Path), no position (the zero Pos).
func (s Source) Pos(field string) Pos {
	if s.Path == "" && s.positions == nil {
		return Pos{}
	}
	for f := field; f != ""; f = parent(f) {
		if p, ok := s.positions[f]; ok {
			return p
		}
	}
	return Pos{File: s.Path, Line: 1, Col: 1}
}

func parent(field string) string {
	i := strings.LastIndexAny(field, ".[")
	if i < 0 {
		return ""
	}
	return field[:i]
}
