// Package pve is a Proxmox VE API simulator: it serves PVE's REST API
// (/api2/json/...) over HTTPS on loopback to unmodified clients such as
// github.com/luthermonson/go-proxmox, over an in-memory cluster of nodes,
// storages and guests.
//
// It keeps PVE's wire habits that clients depend on: the {"data": ...}
// envelope, booleans as 0/1, nextid as a JSON string, errors whose text is
// the HTTP reason phrase (written on the raw connection, since go-proxmox
// never reads a 500's body), 500 rather than 404 for a missing guest,
// 400 "Parameter verification failed." naming the parameter, and
// mutating calls answered with a UPID whose task runs for a while and ends
// with an exit status.
//
// Every accepted request is checked against a parameter schema: PVE's own
// (Options.Schema, loaded from the API viewer data with LoadSchema) or the
// simulator's built-in knowledge of the parameters it implements. Beyond
// the schema, SSH public keys are checked where PVE checks them (VM create
// and config sshkeys, CT create ssh-public-keys): a line that is not a
// public key fails the call with PVE's 500 "SSH public key validation
// error".
//
// A test starts a server, points go-proxmox at URL with HTTPClient, and
// uses the fault setters (InjectFault, InjectTaskFault, SetNodeOnline,
// SetPrivileges) and inspection helpers (Guest, Tasks, Log) around it.
// Time comes from Options.Clock: tasks finish, agents answer and
// /cluster/resources catches up when the clock says so, so tests can drive
// a ManualClock instead of sleeping.
//
// The package depends on nothing of homelab's: tools that import homelab
// can test against it too.
package pve
