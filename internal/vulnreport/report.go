package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
)

// message is one object of govulncheck's JSON stream; only the parts
// read here.
type message struct {
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

// called is a vulnerability whose code homelab calls.
type called struct {
	id, summary, module, version, fixed string
	// via is the first call in homelab's code that reaches it.
	via string
}

type report struct {
	called map[string]*called
	// imported counts the vulnerabilities only imported or required,
	// never called.
	imported map[string]bool
}

// read decodes the stream.
func read(r io.Reader) (*report, error) {
	rep := &report{called: map[string]*called{}, imported: map[string]bool{}}
	summaries := map[string]string{}
	dec := json.NewDecoder(r)
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading govulncheck's JSON: %w", err)
		}
		switch {
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := m.Finding
			top := f.Trace[0]
			if top.Function == "" {
				rep.imported[f.OSV] = true
				continue
			}
			delete(rep.imported, f.OSV)
			if rep.called[f.OSV] != nil {
				continue
			}
			rep.called[f.OSV] = &called{id: f.OSV, module: top.Module, version: top.Version, fixed: f.FixedVersion, via: via(f.Trace)}
		}
	}
	for id, c := range rep.called {
		c.summary = summaries[id]
		delete(rep.imported, id)
	}
	return rep, nil
}

// via names the outermost frame of the trace: the call in homelab's code.
func via(trace []frame) string {
	f := trace[len(trace)-1]
	name := f.Function
	if f.Receiver != "" {
		name = f.Receiver + "." + name
	}
	if f.Position != nil {
		return fmt.Sprintf("%s (%s:%d)", name, f.Position.Filename, f.Position.Line)
	}
	return name
}

// write prints the report and says whether it fails.
func (r *report) write(w io.Writer, stdlibFails bool) (fails bool) {
	ids := slices.Sorted(maps.Keys(r.called))
	var mods, std int
	for _, id := range ids {
		c := r.called[id]
		where := "module " + c.module
		if c.module == "stdlib" {
			where = "the standard library (the Go toolchain)"
			std++
			fails = fails || stdlibFails
		} else {
			mods++
			fails = true
		}
		fmt.Fprintf(w, "%s: %s\n  in %s %s, fixed in %s; called from %s\n", id, c.summary, where, c.version, c.fixed, c.via)
	}
	fmt.Fprintf(w, "govulncheck: %d called vulnerabilities in modules, %d in the standard library; %d more only imported or required, not called\n", mods, std, len(r.imported))
	if std > 0 && !stdlibFails {
		fmt.Fprintln(w, "note: the standard library's are fixed by a newer Go release than this machine's; they do not fail make lint")
	}
	return fails
}
