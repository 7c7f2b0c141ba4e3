package homelab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/homelabctl/homelab/internal/tlsconf"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/routeros"
)

// ConnectOptions tune Connect.
type ConnectOptions struct {
	// Secrets resolves the inventory's secret references; the zero value
	// reads the environment and files.
	Secrets inventory.Resolver
	// Timeout bounds every read and write on a connection (default 10s).
	Timeout time.Duration
	// Logger receives warnings (insecure TLS, plain-text API); nil discards.
	Logger *slog.Logger
}

// Connect makes the clients for the lab the inventory describes. Nothing
// is dialled until a phase first uses a client. Close them with
// Clients.Close.
func Connect(_ context.Context, inv *inventory.Inventory, opts ConnectOptions) (Clients, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var c Clients
	r := inv.Router
	password, err := opts.Secrets.Resolve(r.Password)
	if err != nil {
		return c, fmt.Errorf("router password: %w", err)
	}
	host, _, err := net.SplitHostPort(r.Address)
	if err != nil {
		return c, fmt.Errorf("router address %q: %w", r.Address, err)
	}
	conn, err := routerConn(r, host, password, opts.Timeout, logger)
	if err != nil {
		return c, err
	}
	c.Router = conn
	return c, nil
}

func routerConn(r inventory.Router, host, password string, timeout time.Duration, logger *slog.Logger) (*routeros.Conn, error) {
	if r.TLS == nil {
		logger.Warn("the router API is not encrypted (no router.tls): the password crosses the network in clear", "router", r.Address)
		return routeros.NewConn(r.Address, r.Username, password, nil, timeout), nil
	}
	cfg, err := tlsconf.Config(*r.TLS, host)
	if err != nil {
		return nil, fmt.Errorf("router tls: %w", err)
	}
	if r.TLS.Insecure {
		logger.Warn("router TLS certificate is not verified (router.tls.insecure)", "router", r.Address)
	}
	return routeros.NewConn(r.Address, r.Username, password, cfg, timeout), nil
}

// Close closes every client.
func (c Clients) Close() error {
	if c.Router != nil {
		return c.Router.Close()
	}
	return nil
}
