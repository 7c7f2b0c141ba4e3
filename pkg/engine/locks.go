package engine

import (
	"fmt"

	"github.com/homelabctl/homelab/pkg/step"
)

// locks tracks how many running steps hold each key. It is owned by the
// scheduler goroutine and needs no mutex.
type locks struct {
	capacity map[string]int
	held     map[string]int
}

// newLocks collects each key's capacity, refusing disagreement.
func newLocks(steps []*step.Step) (*locks, error) {
	l := &locks{capacity: map[string]int{}, held: map[string]int{}}
	by := map[string]step.ID{}
	for _, s := range steps {
		for _, k := range s.Locks {
			if k.Capacity < 1 {
				return nil, fmt.Errorf("step %s: lock %s has capacity %d; it must be at least 1", s.ID, k.Key, k.Capacity)
			}
			if c, ok := l.capacity[k.Key]; ok && c != k.Capacity {
				return nil, fmt.Errorf("lock %s: step %s says capacity %d, step %s says %d", k.Key, by[k.Key], c, s.ID, k.Capacity)
			}
			l.capacity[k.Key] = k.Capacity
			by[k.Key] = s.ID
		}
	}
	return l, nil
}

// tryAcquire takes every key of s, or none of them.
func (l *locks) tryAcquire(s *step.Step) bool {
	for _, k := range s.Locks {
		if l.held[k.Key] >= l.capacity[k.Key] {
			return false
		}
	}
	for _, k := range s.Locks {
		l.held[k.Key]++
	}
	return true
}

func (l *locks) release(s *step.Step) {
	for _, k := range s.Locks {
		l.held[k.Key]--
	}
}
