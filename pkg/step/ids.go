package step

// The IDs below are the contract between phases: a step of one phase needs
// steps of another by these IDs, without either package importing the other.

// GuestID is the step that creates (clones or creates) a guest and configures it.
func GuestID(guest string) ID { return ID("guest/" + guest) }

// GuestBootID is the step that starts a guest and waits until it answers.
func GuestBootID(guest string) ID { return ID("guest/" + guest + "/boot") }

// LeaseID is the router's static DHCP lease (reservation) for a guest.
func LeaseID(guest string) ID { return ID("router/lease/" + guest) }

// DHCPServerID is the router's DHCP server for a network.
func DHCPServerID(network string) ID { return ID("router/dhcp-server/" + network) }

// DNSRecordID is a static DNS record on the router.
func DNSRecordID(name string) ID { return ID("router/dns/" + name) }

// HAProxyID is the step that installs haproxy.cfg on a load balancer.
func HAProxyID(lb string) ID { return ID("lb/haproxy/" + lb) }

// KeepalivedID is the step that installs keepalived.conf on a load balancer.
func KeepalivedID(lb string) ID { return ID("lb/keepalived/" + lb) }

// VIPGateID is the gate that proves a VIP is held by exactly one load balancer.
func VIPGateID(vip string) ID { return ID("lb/gate/vip/" + vip) }
