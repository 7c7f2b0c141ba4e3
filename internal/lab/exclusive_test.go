package lab

import (
	"context"
	"testing"
	"time"
)

// exclusiveLab takes the machine's lab lock for the rest of the test:
// taken before the test's first look at the machine, released at its
// cleanup, after every deferred check.
func exclusiveLab(t *testing.T) *Hold {
	t.Helper()
	h, err := Exclusive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Release)
	return h
}

// One lab at a time: a second Exclusive waits until the first is
// released, and gives up with the context.
func TestExclusive(t *testing.T) {
	first, err := Exclusive(context.Background())
	if err != nil {
		t.Skipf("no lab lock here: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if h, err := Exclusive(ctx); err == nil {
		h.Release()
		first.Release()
		t.Fatal("a second lab took the lock while the first held it")
	}
	got := make(chan *Hold)
	go func() {
		h, err := Exclusive(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- h
	}()
	first.Release()
	first.Release() // twice: nothing
	second := <-got
	second.Release()
}
