package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// failures passes a test's calls on and keeps each failure's message, so
// that the end of the log can say again why the test failed: the run is
// long and verbose, and CI shows a log's tail.
type failures struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (f *failures) keep(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, msg)
}

func (f *failures) Error(args ...any) {
	f.TB.Helper()
	f.keep(fmt.Sprintln(args...))
	f.TB.Error(args...)
}

func (f *failures) Errorf(format string, args ...any) {
	f.TB.Helper()
	f.keep(fmt.Sprintf(format, args...))
	f.TB.Errorf(format, args...)
}

func (f *failures) Fatal(args ...any) {
	f.TB.Helper()
	f.keep(fmt.Sprintln(args...))
	f.TB.Fatal(args...)
}

func (f *failures) Fatalf(format string, args ...any) {
	f.TB.Helper()
	f.keep(fmt.Sprintf(format, args...))
	f.TB.Fatalf(format, args...)
}

// summary logs the first lines of each failure kept, the last thing the
// test prints.
func (f *failures) summary() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.msgs) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "== why it failed (%d failure(s); the log above has the detail)", len(f.msgs))
	for _, m := range f.msgs {
		lines := strings.Split(strings.TrimSpace(m), "\n")
		if len(lines) > 3 {
			lines = append(lines[:3], "…")
		}
		b.WriteString("\n  - " + strings.Join(lines, "\n    "))
	}
	f.TB.Log(b.String())
}

// fakeTB keeps what a test would print instead of failing.
type fakeTB struct {
	testing.TB
	errors, logs []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Log(args ...any) { f.logs = append(f.logs, fmt.Sprint(args...)) }

// The end of the log repeats each failure's first lines.
func TestFailuresSummary(t *testing.T) {
	fake := &fakeTB{TB: t}
	f := &failures{TB: fake}
	f.summary()
	if len(fake.logs) != 0 {
		t.Fatalf("a test that did not fail printed a summary: %q", fake.logs)
	}
	f.Errorf("plan: %v\n%s", "no control plane answers", "l1\nl2\nl3\nl4")
	f.Errorf("etcd members %v", []string{"cp-1"})
	if len(fake.errors) != 2 {
		t.Fatalf("the failures were not passed on: %q", fake.errors)
	}
	f.summary()
	want := "== why it failed (2 failure(s); the log above has the detail)\n" +
		"  - plan: no control plane answers\n    l1\n    l2\n    …\n" +
		"  - etcd members [cp-1]"
	if len(fake.logs) != 1 || fake.logs[0] != want {
		t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(fake.logs, "\n"), want)
	}
}
