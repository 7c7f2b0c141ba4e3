package main

import (
	"os"
	"strings"
	"testing"
)

func TestSummarise(t *testing.T) {
	mixed, err := os.ReadFile("testdata/mixed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		stream     string
		wantFailed bool
		want       string
	}{
		{
			name:       "passes, skips by reason, a failure with its output",
			stream:     string(mixed),
			wantFailed: true,
			want: `=== RUN   TestD
    x_test.go:6: some log
    x_test.go:6: boom
--- FAIL: TestD (0.00s)
FAIL
FAIL	x	0.023s

Skipped tests (2), by reason:
  needs root
    x.TestB
  no haproxy
    x.TestC/sub

tests: 3 passed, 1 failed, 2 skipped
`,
		},
		{
			name: "one reason for many tests names a few and counts the rest",
			stream: skipped("p", "T1", "not root") + skipped("p", "T2", "not root") + skipped("p", "T3", "not root") +
				skipped("p", "T4", "not root") + skipped("p", "T5", "not root") + skipped("p", "T6", "not root") +
				skipped("p", "T7", "not root") + skipped("q", "TZ", "no ../shared") +
				`{"Action":"output","Package":"p","Output":"PASS\n"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}
{"Action":"pass","Package":"p"}
`,
			want: `ok  	p	0.1s

Skipped tests (8), by reason:
  not root
    p.T1, p.T2, p.T3, p.T4, p.T5, p.T6 and 1 more
  no ../shared
    q.TZ

tests: 0 passed, 0 failed, 8 skipped
`,
		},
		{
			name: "a build failure fails and shows the compiler's lines",
			stream: `{"ImportPath":"x [x.test]","Action":"build-output","Output":"# x [x.test]\n"}
{"ImportPath":"x [x.test]","Action":"build-output","Output":"./x_test.go:3:1: syntax error\n"}
{"ImportPath":"x [x.test]","Action":"build-fail"}
{"Action":"output","Package":"x","Output":"FAIL\tx [build failed]\n"}
{"Action":"fail","Package":"x"}
`,
			wantFailed: true,
			want: `# x [x.test]
./x_test.go:3:1: syntax error
FAIL	x [build failed]

tests: 0 passed, 0 failed, 0 skipped
`,
		},
		{
			name:   "lines that are not JSON are copied",
			stream: "go: downloading example.com/m v1.0.0\n",
			want:   "go: downloading example.com/m v1.0.0\n\ntests: 0 passed, 0 failed, 0 skipped\n",
		},
		{
			name: "a skip without a message says so",
			stream: `{"Action":"output","Package":"p","Test":"T","Output":"=== RUN   T\n"}
{"Action":"output","Package":"p","Test":"T","Output":"--- SKIP: T (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"T"}
`,
			want: "\nSkipped tests (1), by reason:\n  (no reason given)\n    p.T\n\ntests: 0 passed, 0 failed, 1 skipped\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			failed, err := summarise(strings.NewReader(tt.stream), &out)
			if err != nil {
				t.Fatal(err)
			}
			if failed != tt.wantFailed {
				t.Errorf("failed = %v, want %v", failed, tt.wantFailed)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
}

// skipped is the stream of a test that skips with reason, as testing
// writes it.
func skipped(pkg, test, reason string) string {
	return `{"Action":"run","Package":"` + pkg + `","Test":"` + test + `"}
{"Action":"output","Package":"` + pkg + `","Test":"` + test + `","Output":"=== RUN   ` + test + `\n"}
{"Action":"output","Package":"` + pkg + `","Test":"` + test + `","Output":"    a_test.go:12: ` + reason + `\n"}
{"Action":"output","Package":"` + pkg + `","Test":"` + test + `","Output":"--- SKIP: ` + test + ` (0.00s)\n"}
{"Action":"skip","Package":"` + pkg + `","Test":"` + test + `"}
`
}
