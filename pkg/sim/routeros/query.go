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
	// The endless trues below are implied. A print evaluates the query
	// for every item of the menu: the stack lives in buf, not on the heap.
	var buf [16]bool
	stack := buf[:0]
	var a, b bool
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
					v := stackAt(stack, idx)
					if j == len(ops) {
						stack = append(stack[:0], v) // an index at the end replaces the stack
					} else {
						stack = append(stack, v)
						if ops[j] == '.' {
							j++ // "." after an index does nothing
						}
					}
					i = j - 1
				case c == '!':
					stack, a = stackPop(stack)
					stack = append(stack, !a)
				case c == '&':
					stack, a = stackPop(stack)
					stack, b = stackPop(stack)
					stack = append(stack, a && b)
				case c == '|':
					stack, a = stackPop(stack)
					stack, b = stackPop(stack)
					stack = append(stack, a || b)
				case c == '.':
					stack = append(stack, stackAt(stack, 0))
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

// stackPop takes the top value of the query machine's stack; an empty
// stack is endless true.
func stackPop(s []bool) ([]bool, bool) {
	if len(s) == 0 {
		return s, true
	}
	return s[:len(s)-1], s[len(s)-1]
}

// stackAt is the value i places below the top.
func stackAt(s []bool, i int) bool {
	if i < len(s) {
		return s[len(s)-1-i]
	}
	return true
}
