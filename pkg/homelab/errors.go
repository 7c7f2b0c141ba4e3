package homelab

import "fmt"

// UnknownGuestError is a guest name the inventory does not have, asked
// for by a caller (a HostDialer, Down, Status).
type UnknownGuestError struct {
	Guest string
}

func (e *UnknownGuestError) Error() string {
	return fmt.Sprintf("no guest %q in the inventory", e.Guest)
}
