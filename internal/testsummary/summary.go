package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// event is one line of go test -json (cmd/test2json), with the
// build-output lines go build adds.
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

// maxNamed is how many skipped tests a reason lists by name before it
// counts the rest.
const maxNamed = 6

type testKey struct{ pkg, test string }

// summary accumulates a stream: output held per running test (written
// only if the test fails), the skip reasons, and the counts.
type summary struct {
	w                        io.Writer
	held                     map[testKey][]string
	skips                    map[string][]string // reason -> package.Test
	passed, failures, skips0 int
	pkgFailed                bool
}

func newSummary(w io.Writer) *summary {
	return &summary{w: w, held: map[testKey][]string{}, skips: map[string][]string{}}
}

// read consumes the stream. A line that is not JSON (go's own messages
// when the tests could not start) is copied as it is.
func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(s.w, "%s\n", line)
			continue
		}
		s.take(e)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the go test -json stream: %w", err)
	}
	return nil
}

func (s *summary) take(e event) {
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.w, e.Output)
	case e.Action == "build-fail":
		s.pkgFailed = true
	case e.Test == "":
		// A package's own lines: "ok", "FAIL", "? [no test files]",
		// panics and timeouts outside a test. Its PASS line is noise.
		if e.Action == "output" && e.Output != "PASS\n" {
			fmt.Fprint(s.w, e.Output)
		}
		if e.Action == "fail" {
			s.pkgFailed = true
		}
	default:
		s.takeTest(e)
	}
}

func (s *summary) takeTest(e event) {
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "output":
		s.held[k] = append(s.held[k], e.Output)
	case "pass":
		s.passed++
		delete(s.held, k)
	case "fail":
		s.failures++
		for _, line := range s.held[k] {
			fmt.Fprint(s.w, line)
		}
		delete(s.held, k)
	case "skip":
		s.skips0++
		reason := skipReason(s.held[k])
		s.skips[reason] = append(s.skips[reason], e.Package+"."+e.Test)
		delete(s.held, k)
	}
}

// fileLine is the file:line prefix testing puts before t.Skip's message.
var fileLine = regexp.MustCompile(`^[\w./-]+\.go:\d+: `)

// skipReason is what a skipped test said, without the framing lines and
// the file:line, so that tests skipped for one reason group together.
func skipReason(lines []string) string {
	var said []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		said = append(said, fileLine.ReplaceAllString(t, ""))
	}
	if len(said) == 0 {
		return "(no reason given)"
	}
	return strings.Join(said, " / ")
}

// close writes the skipped tests by reason (most tests first) and the
// closing count.
func (s *summary) close() {
	if len(s.skips) > 0 {
		fmt.Fprintf(s.w, "\nSkipped tests (%d), by reason:\n", s.skips0)
		reasons := slices.SortedFunc(maps.Keys(s.skips), func(a, b string) int {
			if d := len(s.skips[b]) - len(s.skips[a]); d != 0 {
				return d
			}
			return strings.Compare(a, b)
		})
		for _, r := range reasons {
			tests := slices.Sorted(slices.Values(s.skips[r]))
			named := tests[:min(len(tests), maxNamed)]
			more := ""
			if rest := len(tests) - len(named); rest > 0 {
				more = fmt.Sprintf(" and %d more", rest)
			}
			fmt.Fprintf(s.w, "  %s\n    %s%s\n", r, strings.Join(named, ", "), more)
		}
	}
	fmt.Fprintf(s.w, "\ntests: %d passed, %d failed, %d skipped\n", s.passed, s.failures, s.skips0)
}

func (s *summary) failed() bool { return s.pkgFailed || s.failures > 0 }
