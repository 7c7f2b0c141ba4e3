// Command testsummary reads the JSON stream of go test -json on its
// standard input and writes what a person reads: each package's result
// line, the output of every failed test and build, then the skipped tests
// grouped by the reason they gave, and one closing count. make test pipes
// go test through it, so skips are reported whoever runs the tests (root
// or not); it exits 1 when a test, a package or a build failed.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	failed, err := summarise(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

// summarise copies the report of the stream r to w and reports whether
// anything failed.
func summarise(r io.Reader, w io.Writer) (failed bool, err error) {
	s := newSummary(w)
	if err := s.read(r); err != nil {
		return true, err
	}
	s.close()
	return s.failed(), nil
}
