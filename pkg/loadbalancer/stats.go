package loadbalancer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ShowStat is the command to write to HAProxy's admin socket (the
// inventory's stats socket) for the CSV that ParseStats reads; the stats
// page serves the same CSV at StatsURI + ";csv".
const ShowStat = "show stat\n"

// ServerStatus is one backend server as HAProxy reports it.
type ServerStatus struct {
	Backend string
	Server  string
	// Status is HAProxy's status column: "UP", "DOWN", "UP 1/3" (up, and
	// the last check failed or has not run), "DOWN 1/2", "MAINT", "DRAIN",
	// "NOLB" or "no check".
	Status string
	// CheckStatus is the result of the last health check: L7OK, L7OKC, L4OK
	// on success; INI before the first check completed; L4CON, L4TOUT,
	// L6RSP, L7STS, L7RSP... on failure. The "* " HAProxy prefixes while a
	// check runs is removed.
	CheckStatus string
	// CheckCode is the HTTP status of the last HTTP check, e.g. "429".
	CheckCode string
	// LastCheck is HAProxy's words on the last check, e.g.
	// "Connection refused".
	LastCheck string
}

// Up reports whether the server is up and its health check proved it: its
// status is "UP" and its last check completed with success: L7OK or L7OKC
// (an HTTP check), or L4OK, which only a TCP-only check ends with. Right
// after a start or reload HAProxy shows unchecked servers as "UP 1/3" with
// INI: they are not up yet. Servers without a check, drained or in
// maintenance are not up.
func (s ServerStatus) Up() bool {
	if s.Status != "UP" {
		return false
	}
	switch s.CheckStatus {
	case "L7OK", "L7OKC", "L4OK":
		return true
	}
	return false
}

// Layer7 reports whether the last check was a successful HTTP check (L7OK
// or L7OKC). A gate on an HTTP-checked backend requires Up and Layer7.
func (s ServerStatus) Layer7() bool {
	return s.CheckStatus == "L7OK" || s.CheckStatus == "L7OKC"
}

// String is "backend/server STATUS CHECK (code, last check)".
func (s ServerStatus) String() string {
	out := fmt.Sprintf("%s/%s %s %s", s.Backend, s.Server, s.Status, s.CheckStatus)
	var why []string
	for _, w := range []string{s.CheckCode, s.LastCheck} {
		if w != "" {
			why = append(why, w)
		}
	}
	if len(why) > 0 {
		out += " (" + strings.Join(why, ", ") + ")"
	}
	return strings.TrimSpace(out)
}

// BackendStatus is one backend and its servers, in HAProxy's order.
type BackendStatus struct {
	Name string
	// Status is the backend's own status: "UP" while a server is up
	// (or unchecked), "DOWN" when none is.
	Status  string
	Servers []ServerStatus
}

// NotUp returns the servers that are not Up.
func (b BackendStatus) NotUp() []ServerStatus {
	var out []ServerStatus
	for _, s := range b.Servers {
		if !s.Up() {
			out = append(out, s)
		}
	}
	return out
}

// ParseStats reads HAProxy's stats CSV (the answer to ShowStat, starting
// with "# pxname,svname,...") and returns the backends with their servers,
// in HAProxy's order. Proxies with only a frontend (the monitor and stats
// frontends) are left out. Columns are found by their header names, so the
// CSV of any HAProxy version since 1.x reads the same.
func ParseStats(data []byte) ([]BackendStatus, error) {
	data = bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(data, []byte("# ")) {
		first, _, _ := bytes.Cut(data, []byte("\n"))
		if len(first) > 80 {
			first = first[:80]
		}
		return nil, fmt.Errorf("not HAProxy stats CSV: it starts with %q, not \"# pxname,...\"", first)
	}
	r := csv.NewReader(bytes.NewReader(data[2:]))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read stats CSV header: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		if _, dup := col[name]; !dup {
			col[name] = i
		}
	}
	need := 0
	for _, name := range []string{"pxname", "svname", "status", "check_status", "check_code", "last_chk"} {
		i, ok := col[name]
		if !ok {
			return nil, fmt.Errorf("stats CSV header has no %q column", name)
		}
		need = max(need, i+1)
	}
	var backends []BackendStatus
	index := map[string]int{}
	backend := func(name string) *BackendStatus {
		i, ok := index[name]
		if !ok {
			i = len(backends)
			index[name] = i
			backends = append(backends, BackendStatus{Name: name})
		}
		return &backends[i]
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read stats CSV: %w", err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) < need {
			return nil, fmt.Errorf("stats CSV line %d: %d fields, want at least %d", line, len(rec), need)
		}
		px, sv := rec[col["pxname"]], rec[col["svname"]]
		if px == "" || sv == "" {
			return nil, fmt.Errorf("stats CSV line %d: no proxy or server name", line)
		}
		switch sv {
		case "FRONTEND":
			continue
		case "BACKEND":
			backend(px).Status = rec[col["status"]]
		default:
			b := backend(px)
			b.Servers = append(b.Servers, ServerStatus{
				Backend:     px,
				Server:      sv,
				Status:      rec[col["status"]],
				CheckStatus: strings.TrimPrefix(rec[col["check_status"]], "* "),
				CheckCode:   rec[col["check_code"]],
				LastCheck:   rec[col["last_chk"]],
			})
		}
	}
	return backends, nil
}

// NotUp says which of servers HAProxy does not count up in backends (a
// server in no backend counts as not up), or "" when every one is.
func NotUp(backends []BackendStatus, servers []string) string {
	var problems []string
	for _, name := range servers {
		seen := false
		for _, b := range backends {
			for _, s := range b.Servers {
				if s.Server != name {
					continue
				}
				seen = true
				if !s.Up() {
					problems = append(problems, fmt.Sprintf("%s/%s is %s", b.Name, name, s))
				}
			}
		}
		if !seen {
			problems = append(problems, name+" is in no backend")
		}
	}
	return strings.Join(problems, "; ")
}
