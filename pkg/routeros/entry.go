package routeros

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/step"
)

// Prop is one property of a router entry.
type Prop struct {
	Name, Value string
}

// Entry is one row homelab owns in a RouterOS menu: found by its ownership
// comment on every run (never by a remembered .id, which changes after a
// restore), compared field by field, and changed only where it differs.
type Entry struct {
	// Menu is the menu's path, e.g. /ip/dns/static.
	Menu string
	// Comment is the ownership mark, homelab:<inventory>:<step id>.
	Comment string
	// Props are the desired properties, in the order they are shown.
	Props []Prop
	// Identity names the properties any one of which makes another entry
	// the same thing (name; address; mac-address): an entry without our
	// comment that shares one of them is a conflict.
	Identity []string
}

// EntryWork is a step's observe/apply pair for an Entry.
type EntryWork struct {
	Conn  *Conn
	Entry Entry
}

type row map[string]string

func (e Entry) proplist() string {
	names := []string{".id", "comment", "dynamic"}
	for _, p := range e.Props {
		names = append(names, p.Name)
	}
	return "=.proplist=" + strings.Join(names, ",")
}

// print returns the rows of the menu that match the queries, skipping
// dynamic rows, which the router makes and homelab never owns.
func (w EntryWork) print(ctx context.Context, queries ...string) ([]row, error) {
	words := append([]string{w.Entry.Menu + "/print", w.Entry.proplist()}, queries...)
	reply, err := w.Conn.Run(ctx, words...)
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, s := range reply.Re {
		if s.Map["dynamic"] == "true" {
			continue
		}
		rows = append(rows, row(s.Map))
	}
	return rows, nil
}

// Observe finds the entry by its comment and says what would change.
func (w EntryWork) Observe(ctx context.Context) (step.Change, error) {
	e := w.Entry
	ours, err := w.print(ctx, "?comment="+e.Comment)
	if err != nil {
		return step.Change{}, fmt.Errorf("observe %s: %w", e.Menu, err)
	}
	switch len(ours) {
	case 0:
		if clash, err := w.foreign(ctx); err != nil || clash != "" {
			return step.Change{Action: step.Conflict, Reason: clash}, err
		}
		fields := make([]step.Field, 0, len(e.Props)+1)
		for _, p := range e.Props {
			fields = append(fields, step.Set(p.Name, p.Value))
		}
		return step.Change{Action: step.Create, Fields: append(fields, step.Set("comment", e.Comment))}, nil
	case 1:
		var fields []step.Field
		for _, p := range e.Props {
			if have := ours[0][p.Name]; !same(p.Name, have, p.Value) {
				fields = append(fields, step.Field{Name: p.Name, Old: have, New: p.Value})
			}
		}
		if len(fields) == 0 {
			return step.Change{Action: step.None}, nil
		}
		return step.Change{Action: step.Update, Fields: fields}, nil
	default:
		return step.Change{Action: step.Conflict, Reason: fmt.Sprintf("%d entries in %s carry the comment %s; remove the extra ones", len(ours), e.Menu, e.Comment)}, nil
	}
}

// foreign describes an entry without our comment that holds the entry's
// identity, or returns "".
func (w EntryWork) foreign(ctx context.Context) (string, error) {
	e := w.Entry
	if len(e.Identity) == 0 {
		return "", nil
	}
	// One print: ?a=x ?b=y ?#| … matches an entry sharing any of them.
	var queries []string
	for i, name := range e.Identity {
		queries = append(queries, "?"+name+"="+e.value(name))
		if i > 0 {
			queries = append(queries, "?#|")
		}
	}
	rows, err := w.print(ctx, queries...)
	if err != nil {
		return "", fmt.Errorf("observe %s: %w", e.Menu, err)
	}
	for _, r := range rows {
		if r["comment"] == e.Comment {
			continue
		}
		var what []string
		for _, name := range e.Identity {
			if same(name, r[name], e.value(name)) {
				what = append(what, name+"="+r[name])
			}
		}
		comment := r["comment"]
		if comment == "" {
			comment = "none"
		}
		return fmt.Sprintf("%s %s (%s, comment %s) is not homelab's: homelab will not change it", e.Menu, r[".id"], strings.Join(what, " "), comment), nil
	}
	return "", nil
}

func (e Entry) value(name string) string {
	for _, p := range e.Props {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// Apply makes the change. It looks the entry up by its comment again
// rather than trusting anything remembered, and sets only what differs.
func (w EntryWork) Apply(ctx context.Context, change step.Change, out io.Writer) error {
	e := w.Entry
	switch change.Action {
	case step.Create:
		words := []string{e.Menu + "/add"}
		for _, p := range e.Props {
			words = append(words, "="+p.Name+"="+p.Value)
		}
		words = append(words, "=comment="+e.Comment)
		reply, err := w.Conn.Run(ctx, words...)
		if err != nil {
			return fmt.Errorf("add to %s: %w", e.Menu, err)
		}
		fmt.Fprintf(out, "added %s %s\n", e.Menu, reply.Done.Map["ret"])
		return nil
	case step.Update:
		ours, err := w.print(ctx, "?comment="+e.Comment)
		if err != nil {
			return fmt.Errorf("update %s: %w", e.Menu, err)
		}
		if len(ours) != 1 {
			return fmt.Errorf("update %s: the entry with comment %s is gone or doubled (%d found); run again", e.Menu, e.Comment, len(ours))
		}
		words := []string{e.Menu + "/set", "=.id=" + ours[0][".id"]}
		for _, f := range change.Fields {
			words = append(words, "="+f.Name+"="+f.New)
		}
		if _, err := w.Conn.Run(ctx, words...); err != nil {
			return fmt.Errorf("set %s: %w", e.Menu, err)
		}
		fmt.Fprintf(out, "set %d field(s) of %s %s\n", len(change.Fields), e.Menu, ours[0][".id"])
		return nil
	}
	return nil
}

// same compares a printed value with a desired one the way RouterOS
// prints it back (research/routeros.md §3.2).
func same(name, have, want string) bool {
	switch want {
	case "yes":
		want = "true"
	case "no":
		want = "false"
	}
	if name == "mac-address" {
		return strings.EqualFold(have, want)
	}
	return have == want
}
