package step

import (
	"fmt"
	"slices"
	"strings"
)

// Graph is a set of steps and the needs between them, checked to be
// complete (every need names a step in the graph) and acyclic. It knows
// nothing of scheduling: concurrency and locks belong to the engine.
type Graph struct {
	steps      []*Step
	index      map[ID]int
	dependents [][]int
}

// Edge is one need: To needs From.
type Edge struct {
	From ID `json:"from"`
	To   ID `json:"to"`
}

// CycleError reports a cycle of needs. Cycle starts at the step added to the
// graph first among those on the cycle and ends where it started.
type CycleError struct {
	Cycle []ID
}

func (e *CycleError) Error() string {
	parts := make([]string, len(e.Cycle))
	for i, id := range e.Cycle {
		parts[i] = string(id)
	}
	return "cycle of needs: " + strings.Join(parts, " -> ")
}

// NewGraph checks the steps and returns their graph. Steps keep the order
// they are given in, which is the order every listing of the graph uses.
func NewGraph(steps []*Step) (*Graph, error) {
	g := &Graph{steps: steps, index: make(map[ID]int, len(steps)), dependents: make([][]int, len(steps))}
	for i, s := range steps {
		if s.ID == "" {
			return nil, fmt.Errorf("step %d (%s): empty ID", i, s.Description)
		}
		if _, dup := g.index[s.ID]; dup {
			return nil, fmt.Errorf("step %s: defined twice", s.ID)
		}
		g.index[s.ID] = i
	}
	for i, s := range steps {
		for _, need := range s.Needs {
			j, ok := g.index[need]
			if !ok {
				return nil, fmt.Errorf("step %s: needs %s, which is not in the graph", s.ID, need)
			}
			if j == i {
				return nil, &CycleError{Cycle: []ID{s.ID, s.ID}}
			}
			g.dependents[j] = append(g.dependents[j], i)
		}
	}
	if cycle := g.findCycle(); cycle != nil {
		return nil, &CycleError{Cycle: cycle}
	}
	return g, nil
}

// Len returns the number of steps.
func (g *Graph) Len() int { return len(g.steps) }

// Steps returns the steps in the order they were added.
func (g *Graph) Steps() []*Step { return slices.Clone(g.steps) }

// Step returns the step with the given ID.
func (g *Graph) Step(id ID) (*Step, bool) {
	i, ok := g.index[id]
	if !ok {
		return nil, false
	}
	return g.steps[i], true
}

// Index returns the position of the step in the order steps were added, or -1.
func (g *Graph) Index(id ID) int {
	i, ok := g.index[id]
	if !ok {
		return -1
	}
	return i
}

// Dependents returns the steps that need id, in graph order.
func (g *Graph) Dependents(id ID) []ID {
	i, ok := g.index[id]
	if !ok {
		return nil
	}
	out := make([]ID, len(g.dependents[i]))
	for k, j := range g.dependents[i] {
		out[k] = g.steps[j].ID
	}
	return out
}

// Edges returns every need as an edge, in graph order.
func (g *Graph) Edges() []Edge {
	var out []Edge
	for _, s := range g.steps {
		for _, need := range s.Needs {
			out = append(out, Edge{From: need, To: s.ID})
		}
	}
	return out
}

// Order returns the steps in a topological order: every step after all it
// needs, and otherwise in the order they were added.
func (g *Graph) Order() []*Step {
	pending := make([]int, len(g.steps))
	for i, s := range g.steps {
		pending[i] = len(s.Needs)
	}
	// ready is kept sorted so the lowest index always comes out first.
	var ready []int
	for i, n := range pending {
		if n == 0 {
			ready = append(ready, i)
		}
	}
	out := make([]*Step, 0, len(g.steps))
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		out = append(out, g.steps[i])
		for _, j := range g.dependents[i] {
			pending[j]--
			if pending[j] == 0 {
				k, _ := slices.BinarySearch(ready, j)
				ready = slices.Insert(ready, k, j)
			}
		}
	}
	return out
}

// findCycle walks the needs depth-first from each step in graph order and
// returns the first cycle it meets, rotated to start at its earliest step.
func (g *Graph) findCycle() []ID {
	const (
		unseen = iota
		onPath
		finished
	)
	state := make([]int, len(g.steps))
	var path []int
	var visit func(i int) []int
	visit = func(i int) []int {
		state[i] = onPath
		path = append(path, i)
		for _, need := range g.steps[i].Needs {
			j := g.index[need]
			switch state[j] {
			case onPath:
				start := slices.Index(path, j)
				return slices.Clone(path[start:])
			case unseen:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = finished
		return nil
	}
	for i := range g.steps {
		if state[i] != unseen {
			continue
		}
		if c := visit(i); c != nil {
			// c runs along needs (a needs b needs c); report it in the
			// direction work flows, starting at the earliest step.
			slices.Reverse(c)
			low := 0
			for k := range c {
				if c[k] < c[low] {
					low = k
				}
			}
			rotated := append(slices.Clone(c[low:]), c[:low]...)
			ids := make([]ID, 0, len(rotated)+1)
			for _, k := range rotated {
				ids = append(ids, g.steps[k].ID)
			}
			return append(ids, ids[0])
		}
	}
	return nil
}
