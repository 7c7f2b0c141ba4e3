package main

import (
	"strings"
	"testing"
)

// A stream as govulncheck -format json writes it: pretty-printed objects,
// the OSV entries before the findings, a finding at module, package and
// symbol level.
const stream = `{"config": {"protocol_version": "v1.0.0"}}
{"osv": {"id": "GO-1", "summary": "DoS in x/crypto/ssh"}}
{"osv": {"id": "GO-2", "summary": "Trailer headers in net/http"}}
{"osv": {"id": "GO-3", "summary": "only required"}}
{"finding": {"osv": "GO-1", "fixed_version": "v0.56.0", "trace": [{"module": "golang.org/x/crypto", "version": "v0.55.0"}]}}
{"finding": {
  "osv": "GO-1", "fixed_version": "v0.56.0",
  "trace": [
    {"module": "golang.org/x/crypto", "version": "v0.55.0", "package": "golang.org/x/crypto/ssh", "function": "NewClientConn"},
    {"module": "github.com/homelabctl/homelab", "package": "github.com/homelabctl/homelab/pkg/remote", "function": "dialOnce", "receiver": "Pool", "position": {"filename": "pkg/remote/dial.go", "line": 188}}
  ]}}
{"finding": {"osv": "GO-2", "fixed_version": "v1.26.9", "trace": [
    {"module": "stdlib", "version": "v1.26.8", "package": "net/http", "function": "Serve"},
    {"module": "github.com/homelabctl/homelab", "function": "Start", "receiver": "*Server"}]}}
{"finding": {"osv": "GO-3", "fixed_version": "v1.5.3", "trace": [{"module": "github.com/gorilla/websocket", "version": "v1.4.2"}]}}
`

// stdlibOnly has a called vulnerability in the standard library alone.
const stdlibOnly = `{"osv": {"id": "GO-2", "summary": "Trailer headers in net/http"}}
{"finding": {"osv": "GO-2", "fixed_version": "v1.26.9", "trace": [
    {"module": "stdlib", "version": "v1.26.8", "package": "net/http", "function": "Serve"},
    {"module": "github.com/homelabctl/homelab", "function": "Start", "receiver": "*Server"}]}}
`

func TestReport(t *testing.T) {
	tests := []struct {
		name         string
		stream       string
		stdlibFails  bool
		wantFails    bool
		wantContains []string
	}{
		{
			name:      "a called module vulnerability fails; the toolchain's warns",
			stream:    stream,
			wantFails: true,
			wantContains: []string{
				"GO-1: DoS in x/crypto/ssh\n  in module golang.org/x/crypto v0.55.0, fixed in v0.56.0; called from Pool.dialOnce (pkg/remote/dial.go:188)\n",
				"GO-2: Trailer headers in net/http\n  in the standard library (the Go toolchain) v1.26.8, fixed in v1.26.9; called from *Server.Start\n",
				"govulncheck: 1 called vulnerabilities in modules, 1 in the standard library; 1 more only imported or required, not called\n",
				"do not fail make lint",
			},
		},
		{
			name:         "the toolchain's alone passes, with a note",
			stream:       stdlibOnly,
			wantContains: []string{"0 called vulnerabilities in modules, 1 in the standard library", "note:"},
		},
		{
			name:         "-stdlib=fail fails on the toolchain's",
			stream:       stdlibOnly,
			stdlibFails:  true,
			wantFails:    true,
			wantContains: []string{"1 in the standard library"},
		},
		{
			name:         "nothing found",
			stream:       `{"config": {}}`,
			wantContains: []string{"govulncheck: 0 called vulnerabilities in modules, 0 in the standard library; 0 more"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := read(strings.NewReader(tt.stream))
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			if fails := r.write(&out, tt.stdlibFails); fails != tt.wantFails {
				t.Errorf("fails = %v, want %v", fails, tt.wantFails)
			}
			for _, want := range tt.wantContains {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestReportRefusesBrokenJSON(t *testing.T) {
	if _, err := read(strings.NewReader(`{"finding": {`)); err == nil || !strings.Contains(err.Error(), "govulncheck's JSON") {
		t.Fatalf("err = %v, want a JSON error", err)
	}
}
