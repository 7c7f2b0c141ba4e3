// Package homelab is the library's front door. The homelab command uses
// nothing else; other Go tools import this package the same way.
//
//   - Load reads and validates an inventory (every problem with its file,
//     line and column); Validate checks one built or changed in memory.
//   - Plan compiles an inventory and a plan file into ordered steps and,
//     given Clients, observes the lab (read only) to find what really
//     changes. PlanOptions.Offline reads nothing.
//   - Up plans and runs; Run runs a plan Plan made (RunOptions: how, not
//     with what); Apply runs a saved plan exactly, refusing a stale one
//     (*StalePlanError); DownPlan lists what carries the inventory's mark
//     and Down removes it, and nothing else; DownPlanWith puts first the
//     backup of the cluster taken before control planes go (a replace of
//     a control-plane guest in a run takes it too, unless NoBackup).
//   - Connect makes Clients for the real lab from the inventory's
//     addresses, TLS settings and secret references; pkg/simlab starts
//     an in-process simulated lab on loopback and gives its Clients.
//     This package imports no simulator: a program that imports it
//     compiles none.
//   - Lock and Journal keep two runs against one inventory from
//     interleaving, and record what each did.
//
// This is where the phase kinds are assembled: the network phase from
// pkg/routeros, guests from pkg/proxmox, loadbalancers from
// pkg/loadbalancer and kubernetes from pkg/kubeadm. Registration is
// explicit, in Phases, never through init().
package homelab
