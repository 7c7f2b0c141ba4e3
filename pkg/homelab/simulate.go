package homelab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/routeros"
	simros "github.com/homelabctl/homelab/pkg/sim/routeros"
)

// SimulatedLab is an in-process lab to run plans against: simulators that
// speak the real protocols on loopback ports, so nothing reaches the
// inventory's real addresses. (So far: the router.)
type SimulatedLab struct {
	Router  *simros.Server
	clients Clients
}

// simulatedManagement is the simulated router's address as the router
// sees its API clients arrive: the factory address on its bridge.
var simulatedManagement = netip.MustParseAddr("192.168.88.1")

// Simulate starts a simulated lab for inv, in its factory state.
func Simulate(_ context.Context, inv *inventory.Inventory) (*SimulatedLab, error) {
	secret := make([]byte, 12)
	rand.Read(secret)
	password := hex.EncodeToString(secret)
	router := simros.New(simros.Options{
		Users:      map[string]string{inv.Router.Username: password},
		Management: simulatedManagement,
	})
	addr, err := router.Start()
	if err != nil {
		return nil, fmt.Errorf("start the simulated router: %w", err)
	}
	return &SimulatedLab{
		Router: router,
		clients: Clients{
			Router:           routeros.NewConn(addr, inv.Router.Username, password, nil, 5*time.Second),
			RouterManagement: simulatedManagement,
		},
	}, nil
}

// Clients are the clients that reach the simulated lab.
func (l *SimulatedLab) Clients() Clients { return l.clients }

// Close stops the simulators.
func (l *SimulatedLab) Close() error {
	l.clients.Close()
	return l.Router.Close()
}
