package loadbalancer

import "github.com/homelabctl/homelab/pkg/step"

// BrokenConfigWork is the haproxy step's work with a fixed configuration,
// for tests that show a configuration haproxy -c rejects is never
// installed.
func BrokenConfigWork(hosts HostDialer, guest string, config []byte) step.Work {
	p := Phase{Hosts: hosts}
	s := &step.Step{}
	p.attachHAProxy(guest, s, config)
	return s.Work
}
