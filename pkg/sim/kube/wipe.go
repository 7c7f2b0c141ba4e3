package kube

import (
	"slices"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// Wiped forgets what the cluster kept on h's disk, for
// host.LabOptions.Wiped: h is a new machine (its guest was destroyed and
// created again). As on a real cluster, what lived on the node goes with
// it and what lives in etcd stays: its Node object stays registered,
// NotReady, until a node of that name joins again (or it is deleted); its
// etcd member stays in the member list, unreachable (it no longer counts
// towards the quorum), until it is removed. When no control plane is left
// that holds etcd's data, the cluster is gone with its last member.
func (s *Sim) Wiped(h *host.Host) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cluster
	if c == nil {
		return
	}
	ips := []string{h.IP().String()}
	for i := range c.Nodes {
		if c.Nodes[i].Host == h.Name() {
			c.Nodes[i].Lost = true
			ips = append(ips, c.Nodes[i].IP)
		}
	}
	for i := range c.Members {
		m := &c.Members[i]
		if slices.ContainsFunc(ips, func(ip string) bool { return m.PeerURL == peerURL(ip) }) && m.Started {
			m.Started = false
			s.log.Info("simulated cluster: an etcd member's data went with its disk", "host", h.Name(), "member", m.Name)
		}
	}
	if !slices.ContainsFunc(c.Members, func(m Member) bool { return m.Started }) {
		s.log.Info("simulated cluster: no etcd member holds the data any more: the cluster is gone", "host", h.Name())
		s.cluster = nil
	}
}
