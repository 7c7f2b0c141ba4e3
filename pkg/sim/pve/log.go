package pve

import (
	"maps"
	"net/http"
	"path"
	"time"
)

// Request is one API call as the server saw it. Params has path and
// query/body parameters with secrets (passwords) redacted; Status is the
// HTTP status answered, 0 for a dropped connection.
type Request struct {
	Time   time.Time
	Method string
	Path   string // relative to /api2/json
	Params map[string]string
	Token  string
	Status int
}

// Log returns every request served so far, oldest first: in the order
// their answers were decided, each before its answer was written.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqLog))
	for i, r := range s.reqLog {
		r.Params = maps.Clone(r.Params)
		out[i] = r
	}
	return out
}

// ResetLog forgets the requests served so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqLog = nil
}

// Count returns how many logged requests match method ("" for any) and a
// path pattern in path.Match syntax ("/nodes/*/qemu/*/clone").
func (s *Server) Count(method, pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.reqLog {
		if matchRequest(method, pattern, r.Method, r.Path) {
			n++
		}
	}
	return n
}

// MutatingCalls returns how many logged requests were POST, PUT or
// DELETE: what a converged re-run should not send.
func (s *Server) MutatingCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.reqLog {
		if isMutating(r.Method) {
			n++
		}
	}
	return n
}

func isMutating(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodDelete
}

func matchRequest(wantMethod, pattern, method, p string) bool {
	if wantMethod != "" && wantMethod != method {
		return false
	}
	if pattern == "" {
		return true
	}
	ok, err := path.Match(pattern, p)
	return err == nil && ok
}
