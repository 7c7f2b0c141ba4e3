package routeros

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
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
	// Adopt names a property by which a dynamic row the router made (a
	// DHCP lease for our MAC) is taken over: made static with make-static,
	// then set and marked as ours. Empty for menus without dynamic rows
	// worth keeping.
	Adopt string
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
	rows, err := w.printAll(ctx, queries...)
	return slices.DeleteFunc(rows, func(r row) bool { return r["dynamic"] == "true" }), err
}

// printAll returns every row that matches the queries, dynamic ones too.
func (w EntryWork) printAll(ctx context.Context, queries ...string) ([]row, error) {
	return w.Conn.print(ctx, w.Entry.Menu, w.Entry.proplist(), queries...)
}

// state is what observing found: the change, and the .id of the row it
// applies to (ours, or a dynamic row to adopt), valid for this run only.
type state struct {
	change step.Change
	id     string
	adopt  bool
}

// Observe finds the entry by its comment and says what would change.
func (w EntryWork) Observe(ctx context.Context) (step.Change, error) {
	st, err := w.observe(ctx)
	return st.change, err
}

func (w EntryWork) observe(ctx context.Context) (state, error) {
	e := w.Entry
	ours, err := w.print(ctx, "?comment="+e.Comment)
	if err != nil {
		return state{}, fmt.Errorf("observe %s: %w", e.Menu, err)
	}
	switch len(ours) {
	case 0:
		if clash, err := w.foreign(ctx); err != nil || clash != "" {
			return state{change: step.Change{Action: step.Conflict, Reason: clash}}, err
		}
		if st, err := w.adoptable(ctx); err != nil || st.adopt {
			return st, err
		}
		fields := make([]step.Field, 0, len(e.Props)+1)
		for _, p := range e.Props {
			fields = append(fields, step.Set(p.Name, p.Value))
		}
		return state{change: step.Change{Action: step.Create, Fields: append(fields, step.Set("comment", e.Comment))}}, nil
	case 1:
		fields := e.diff(ours[0])
		if len(fields) == 0 {
			return state{change: step.Change{Action: step.None}, id: ours[0][".id"]}, nil
		}
		return state{change: step.Change{Action: step.Update, Fields: fields}, id: ours[0][".id"]}, nil
	default:
		return state{change: step.Change{Action: step.Conflict, Reason: fmt.Sprintf("%d entries in %s carry the comment %s; remove the extra ones", len(ours), e.Menu, e.Comment)}}, nil
	}
}

// diff lists the properties whose printed value differs from the desired.
func (e Entry) diff(r row) []step.Field {
	var fields []step.Field
	for _, p := range e.Props {
		if have := r[p.Name]; !same(p.Name, have, p.Value) {
			fields = append(fields, step.Field{Name: p.Name, Old: have, New: p.Value})
		}
	}
	return fields
}

// adoptable finds a dynamic row the entry takes over (a lease the DHCP
// server handed our MAC before its reservation existed).
func (w EntryWork) adoptable(ctx context.Context) (state, error) {
	e := w.Entry
	if e.Adopt == "" {
		return state{}, nil
	}
	rows, err := w.printAll(ctx, "?"+e.Adopt+"="+e.value(e.Adopt), "?dynamic=true")
	if err != nil || len(rows) == 0 {
		return state{}, err
	}
	r := rows[0]
	fields := append(e.diff(r), step.Field{Name: "comment", Old: r["comment"], New: e.Comment})
	return state{
		change: step.Change{Action: step.Update, Fields: fields,
			Reason: fmt.Sprintf("the router made a dynamic entry %s for %s=%s: homelab makes it static, then sets it", r[".id"], e.Adopt, r[e.Adopt])},
		id:    r[".id"],
		adopt: true,
	}, nil
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

// Apply makes the entry what it should be. It observes again first rather
// than trusting the plan or anything remembered: after a dropped
// connection or a retry, an add may already have happened, and adding
// again would make a duplicate. It sets only what differs.
func (w EntryWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	e := w.Entry
	st, err := w.observe(ctx)
	if err != nil {
		return err
	}
	switch st.change.Action {
	case step.None:
		return nil
	case step.Conflict:
		return fmt.Errorf("%s: %s", e.Menu, st.change.Reason)
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
	}
	if st.adopt {
		if _, err := w.Conn.Run(ctx, e.Menu+"/make-static", "=numbers="+st.id); err != nil {
			return fmt.Errorf("make-static %s %s: %w", e.Menu, st.id, err)
		}
		fmt.Fprintf(out, "made %s %s static\n", e.Menu, st.id)
	}
	words := []string{e.Menu + "/set", "=.id=" + st.id}
	for _, f := range st.change.Fields {
		words = append(words, "="+f.Name+"="+f.New)
	}
	if _, err := w.Conn.Run(ctx, words...); err != nil {
		return fmt.Errorf("set %s %s: %w", e.Menu, st.id, err)
	}
	fmt.Fprintf(out, "set %d field(s) of %s %s\n", len(st.change.Fields), e.Menu, st.id)
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

// DNSRecordWork is the work of a step that owns one static DNS record
// (/ip/dns/static): name pointing at address, marked with the comment of
// step id. Another entry of that name without the comment is a conflict.
func DNSRecordWork(conn *Conn, inv *inventory.Inventory, id step.ID, name, address string) step.Work {
	return EntryWork{Conn: conn, Entry: Entry{Menu: "/ip/dns/static", Comment: Comment(inv, id), Identity: []string{"name"},
		Props: []Prop{{Name: "name", Value: name}, {Name: "address", Value: address}}}}
}
