// Package loadbalancer is the loadbalancers phase: HAProxy and keepalived
// on every guest with the load-balancer role, holding the inventory's VIPs.
//
// Per load balancer the phase installs the packages, allows HAProxy to bind
// addresses the node does not hold (so it starts on nodes without the VIP),
// installs haproxy.cfg and then keepalived.conf; a gate per VIP then waits
// until exactly one load balancer holds it.
package loadbalancer
