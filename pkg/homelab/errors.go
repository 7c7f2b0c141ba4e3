package homelab

import (
	"errors"
	"fmt"
)

// UnknownGuestError is a guest name the inventory does not have, asked
// for by a caller (a HostDialer, Down, Status).
type UnknownGuestError struct {
	Guest string
}

func (e *UnknownGuestError) Error() string {
	return fmt.Sprintf("no guest %q in the inventory", e.Guest)
}

// ErrNoAddress is a guest that has no address to reach it at (a
// simulated lab without a host for it).
var ErrNoAddress = errors.New("no address")

// ErrNotFromDownPlan is Down given a Removal that DownPlan did not make.
var ErrNotFromDownPlan = errors.New("a removal without a way to remove it (make removals with DownPlan)")
