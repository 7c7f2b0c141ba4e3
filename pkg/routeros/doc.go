// Package routeros is the network phase: VLANs, DHCP servers, static leases
// (reservations) and static DNS on a MikroTik router, and the only code
// that talks to the RouterOS API.
//
// Every entry homelab creates carries the comment homelab:<inventory>:<id>,
// where <id> is the ID of the step that owns it; entries without such a
// comment are never changed or removed.
package routeros
