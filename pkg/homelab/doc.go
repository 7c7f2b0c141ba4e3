// Package homelab is the library's front door: load an inventory, compile
// a plan from it, and (as the phases get wired to their providers) observe,
// apply, bring up, tear down and report status. The homelab command uses
// nothing else; other Go tools import this package the same way.
//
// This is where the phase kinds are assembled: the network phase from
// pkg/routeros, guests from pkg/proxmox, loadbalancers from
// pkg/loadbalancer and kubernetes from pkg/kubeadm. Registration is
// explicit, in Phases, never through init().
package homelab
