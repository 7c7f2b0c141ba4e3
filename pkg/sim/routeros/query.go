package routeros

import (
	"fmt"
	"strings"
)

// matchQuery evaluates print's query words against one item, as RouterOS's
// stack machine does: the stack starts as endless true; "?name" pushes
// has-value, "?-name" lacks-value, "?name=x" or "?=name=x" equals, "?<name=x"
// and "?>name=x" less and greater; "?#ops" applies operators. The item
// matches if no false is left on the stack.
func matchQuery(item map[string]string, queries []string) (bool, error) {
	var stack []bool // the endless trues below are implied
	pop := func() bool {
		if len(stack) == 0 {
			return true
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v
	}
	at := func(i int) bool {
		if i < len(stack) {
			return stack[len(stack)-1-i]
		}
		return true
	}
	for _, q := range queries {
		q = strings.TrimPrefix(q, "?")
		switch {
		case strings.HasPrefix(q, "#"):
			ops := q[1:]
			for i := 0; i < len(ops); i++ {
				c := ops[i]
				switch {
				case c >= '0' && c <= '9':
					j := i
					for j < len(ops) && ops[j] >= '0' && ops[j] <= '9' {
						j++
					}
					var idx int
					fmt.Sscanf(ops[i:j], "%d", &idx)
					v := at(idx)
					if j == len(ops) {
						stack = []bool{v} // an index at the end replaces the stack
					} else {
						stack = append(stack, v)
						if ops[j] == '.' {
							j++ // "." after an index does nothing
						}
					}
					i = j - 1
				case c == '!':
					stack = append(stack, !pop())
				case c == '&':
					a, b := pop(), pop()
					stack = append(stack, a && b)
				case c == '|':
					a, b := pop(), pop()
					stack = append(stack, a || b)
				case c == '.':
					stack = append(stack, at(0))
				default:
					return false, fmt.Errorf("unknown query operator %q", c)
				}
			}
		case strings.HasPrefix(q, "-"):
			_, has := item[q[1:]]
			stack = append(stack, !has)
		case strings.HasPrefix(q, "<") || strings.HasPrefix(q, ">"):
			name, value, _ := strings.Cut(q[1:], "=")
			v, has := item[name]
			if q[0] == '<' {
				stack = append(stack, has && v < value)
			} else {
				stack = append(stack, has && v > value)
			}
		default:
			q = strings.TrimPrefix(q, "=")
			name, value, hasValue := strings.Cut(q, "=")
			v, has := item[name]
			if !hasValue {
				stack = append(stack, has)
			} else {
				stack = append(stack, has && v == value)
			}
		}
	}
	for _, v := range stack {
		if !v {
			return false, nil
		}
	}
	return true, nil
}
