// Package loadbalancer is the loadbalancers phase: HAProxy and keepalived
// on every guest with the load-balancer role, holding the inventory's VIPs.
//
// Per load balancer the phase installs the packages, allows HAProxy to bind
// addresses the node does not hold (so it starts on nodes without the VIP),
// installs haproxy.cfg and then keepalived.conf; a gate per VIP then waits
// until exactly one load balancer holds it.
//
// The files are typed templates (templates/*.tmpl, parsed once) rendered
// from the inventory by RenderHAProxy, RenderKeepalived, RenderSysctl and
// RenderKeepalivedDropIn; the steps' intents carry them in full, with the
// VRRP password shown as step.Redacted. The validators of Debian's packages
// check them: HAProxyCheckCommand and KeepalivedCheckCommand build the
// commands, ParseHAProxyCheck and ParseKeepalivedCheck judge their output
// (keepalived 2.2.7's exit 143 included, with StripScripts for a copy that
// gives a real exit code), so the same check runs in tests and, through a
// Runner, on a host. ParseStats reads HAProxy's stats CSV to tell which
// backend servers passed their health checks.
package loadbalancer
