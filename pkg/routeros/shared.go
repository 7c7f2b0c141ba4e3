package routeros

import (
	"context"
	"fmt"
	"strings"

	"github.com/homelabctl/homelab/pkg/step"
)

// menuKey names one menu of one session in an observation pass.
type menuKey struct {
	conn *Conn
	menu string
}

// print returns the rows of menu that match the print queries, with at
// least the properties in proplist (a ".proplist=" word, or ""). In an
// observation pass (step.WithPass) the whole menu is printed once and
// shared by every step that reads it, and the queries are evaluated here
// as the router would; outside a pass (right before a write) the router
// is asked for just those rows.
func (c *Conn) print(ctx context.Context, menu, proplist string, queries ...string) ([]row, error) {
	if !step.InPass(ctx) {
		return c.printRouter(ctx, menu, proplist, queries...)
	}
	all, err := step.Shared(ctx, menuKey{c, menu}, func(ctx context.Context) ([]row, error) {
		return c.printRouter(ctx, menu, "")
	})
	if err != nil {
		return nil, err
	}
	var out []row
	for _, r := range all {
		ok, err := matchQueries(r, queries)
		if err != nil {
			return nil, fmt.Errorf("%s/print: %w", menu, err)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// printRouter asks the router for the rows of menu that match queries.
func (c *Conn) printRouter(ctx context.Context, menu, proplist string, queries ...string) ([]row, error) {
	words := []string{menu + "/print"}
	if proplist != "" {
		words = append(words, proplist)
	}
	reply, err := c.Run(ctx, append(words, queries...)...)
	if err != nil {
		return nil, err
	}
	rows := make([]row, 0, len(reply.Re))
	for _, s := range reply.Re {
		rows = append(rows, row(s.Map))
	}
	return rows, nil
}

// matchQueries evaluates print query words against a row the way RouterOS
// does: each "?name=value" pushes whether the row's property equals the
// value, "?#|" replaces the top two with their OR, and the row matches
// when every value left is true. Only what homelab sends is understood.
func matchQueries(r row, queries []string) (bool, error) {
	var stack []bool
	for _, q := range queries {
		switch {
		case q == "?#|":
			if len(stack) < 2 {
				return false, fmt.Errorf("query %q needs two values", q)
			}
			a, b := stack[len(stack)-2], stack[len(stack)-1]
			stack = append(stack[:len(stack)-2], a || b)
		case strings.HasPrefix(q, "?") && strings.Contains(q, "=") && !strings.ContainsAny(q[1:2], "<>-#"):
			name, value, _ := strings.Cut(q[1:], "=")
			stack = append(stack, r[name] == value)
		default:
			return false, fmt.Errorf("query word %q is not one homelab evaluates", q)
		}
	}
	for _, v := range stack {
		if !v {
			return false, nil
		}
	}
	return true, nil
}
