package step

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// In a pass, concurrent readers of one key share one read; other keys
// and other passes read on their own; a failed read is read again; outside
// a pass every call reads.
func TestShared(t *testing.T) {
	var calls atomic.Int32
	fetch := func(context.Context) (int, error) { return int(calls.Add(1)), nil }
	ctx := WithPass(context.Background())
	var wg sync.WaitGroup
	got := make([]int, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := Shared(ctx, "menu", fetch)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	for _, v := range got {
		if v != 1 {
			t.Fatalf("readers saw %v, want one read shared", got)
		}
	}
	if v, _ := Shared(ctx, "other", fetch); v != 2 {
		t.Errorf("another key: %d", v)
	}
	if v, _ := Shared(WithPass(context.Background()), "menu", fetch); v != 3 {
		t.Errorf("another pass: %d", v)
	}
	if v, _ := Shared(context.Background(), "menu", fetch); v != 4 || InPass(context.Background()) || !InPass(ctx) {
		t.Errorf("outside a pass: %d", v)
	}
	boom := errors.New("boom")
	failing := func(context.Context) (int, error) { calls.Add(1); return 0, boom }
	if _, err := Shared(ctx, "failing", failing); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if v, err := Shared(ctx, "failing", fetch); err != nil || v != 6 {
		t.Errorf("after a failed read: %d %v", v, err)
	}
}
