package homelab

import "github.com/homelabctl/homelab/pkg/remote"

// What the external tests (package homelab_test, which use pkg/simlab)
// reach inside Clients for.

// CloseSSH closes the SSH connections behind c.Hosts.
func (c Clients) CloseSSH() error { return c.pool.Close() }

// HostConfig is how c reaches guest over SSH, host key policy included.
func (c Clients) HostConfig(guest string) (remote.Config, error) { return c.hostKeys.config(guest) }

// CheckQuorum is checkQuorum, for the degraded-run tests.
var CheckQuorum = checkQuorum
