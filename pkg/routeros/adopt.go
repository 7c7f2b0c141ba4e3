package routeros

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/step"
)

// ObserveAdopt finds the rows of the menu that share an identity property
// with the entry (name; mac-address or address; …). One static row
// without homelab's comment that matches on every identity property can
// be adopted: the change is its comment, set to the entry's mark. Rows
// that share only some of them, several rows, or a row another inventory
// marked are conflicts. Nothing to adopt when the entry is already marked
// or absent.
func (w EntryWork) ObserveAdopt(ctx context.Context) (step.Change, error) {
	st, err := w.observeAdopt(ctx)
	return st.change, err
}

func (w EntryWork) observeAdopt(ctx context.Context) (state, error) {
	e := w.Entry
	ours, err := w.print(ctx, "?comment="+e.Comment)
	if err != nil {
		return state{}, fmt.Errorf("observe %s: %w", e.Menu, err)
	}
	if len(ours) > 0 {
		return state{change: step.Change{Action: step.None, Reason: "already marked as homelab's"}}, nil
	}
	if len(e.Identity) == 0 {
		return state{change: step.Change{Action: step.None, Reason: "no identity to match by"}}, nil
	}
	var queries []string
	for i, name := range e.Identity {
		queries = append(queries, "?"+name+"="+e.value(name))
		if i > 0 {
			queries = append(queries, "?#|")
		}
	}
	rows, err := w.print(ctx, queries...)
	if err != nil {
		return state{}, fmt.Errorf("observe %s: %w", e.Menu, err)
	}
	switch len(rows) {
	case 0:
		return state{change: step.Change{Action: step.None, Reason: "absent: up creates it"}}, nil
	case 1:
	default:
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r[".id"]
		}
		return state{change: step.Change{Action: step.Conflict, Reason: fmt.Sprintf("%d rows of %s (%s) share the identity of %s: homelab adopts one row that matches on every identity property", len(rows), e.Menu, strings.Join(ids, " "), e.Comment)}}, nil
	}
	r := rows[0]
	if c := r["comment"]; strings.HasPrefix(c, "homelab:") {
		return state{change: step.Change{Action: step.Conflict, Reason: fmt.Sprintf("%s %s carries another mark (%s): homelab will not take it over", e.Menu, r[".id"], c)}}, nil
	}
	var differ []string
	for _, name := range e.Identity {
		if !same(name, r[name], e.value(name)) {
			differ = append(differ, fmt.Sprintf("%s=%s, the inventory wants %s", name, orNone(r[name]), e.value(name)))
		}
	}
	if len(differ) > 0 {
		return state{change: step.Change{Action: step.Conflict, Reason: fmt.Sprintf("%s %s does not match %s: %s", e.Menu, r[".id"], e.Comment, strings.Join(differ, "; "))}}, nil
	}
	change := step.Change{Action: step.Update, Fields: []step.Field{{Name: "comment", Old: r["comment"], New: e.Comment}}}
	if later := e.diff(r); len(later) > 0 {
		parts := make([]string, len(later))
		for i, f := range later {
			parts[i] = fmt.Sprintf("%s %q -> %q", f.Name, f.Old, f.New)
		}
		change.Reason = "after adoption, up would change: " + strings.Join(parts, ", ")
	}
	return state{change: change, id: r[".id"]}, nil
}

// Adopt observes again and, if the row can still be adopted, sets its
// comment and nothing else (a comment is only a label on RouterOS: the
// row keeps working as it was).
func (w EntryWork) Adopt(ctx context.Context, out io.Writer) error {
	e := w.Entry
	st, err := w.observeAdopt(ctx)
	if err != nil {
		return err
	}
	switch st.change.Action {
	case step.Update:
		if _, err := w.Conn.Run(ctx, e.Menu+"/set", "=.id="+st.id, "=comment="+e.Comment); err != nil {
			return fmt.Errorf("set the comment of %s %s: %w", e.Menu, st.id, err)
		}
		fmt.Fprintf(out, "marked %s %s as %s\n", e.Menu, st.id, e.Comment)
		return nil
	case step.Conflict:
		return fmt.Errorf("%s: %s", e.Menu, st.change.Reason)
	}
	return nil
}
