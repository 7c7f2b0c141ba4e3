//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// LockFile is the machine-wide lock labs take turns on: one lab runs on
// this machine at a time. Test binaries of several packages run at once
// (go test ./...), and a lab that checks the machine is left as it found
// it (its sysctls, cgroups, namespaces, links) must not see another lab's
// hosts come and go; memory is budgeted for one lab too.
const LockFile = "/run/lock/homelab-lab.lock"

// Hold is the machine's lab lock, held until Release.
type Hold struct {
	f *os.File
	// Swept is what labs that died had left on the machine and taking
	// the lock removed (their ledgers in LedgerDir): "netns hle-cp-1",
	// "cgroup /sys/fs/cgroup/...", "link hlebr", "dir /tmp/...".
	Swept []string
}

// Exclusive waits until no other lab on this machine runs, sweeps what
// labs that died left behind, and returns the lock. A test that compares the machine before and after its lab
// takes it before its first look and hands it to Start (Options.Hold).
func Exclusive(ctx context.Context) (*Hold, error) {
	if err := os.MkdirAll("/run/lock", 0o755); err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	f, err := os.OpenFile(LockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			h := &Hold{f: f}
			if h.Swept, err = sweep(LedgerDir); err != nil {
				h.Release()
				return nil, err
			}
			return h, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lab lock %s: %w", LockFile, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another lab on this machine to end (%s): %w", LockFile, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Release lets the next lab run; releasing twice, or a nil Hold, does
// nothing.
func (h *Hold) Release() {
	if h == nil || h.f == nil {
		return
	}
	syscall.Flock(int(h.f.Fd()), syscall.LOCK_UN)
	h.f.Close()
	h.f = nil
}
