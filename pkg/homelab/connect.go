package homelab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	pve "github.com/luthermonson/go-proxmox"

	"github.com/homelabctl/homelab/internal/tlsconf"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/proxmox"
	"github.com/homelabctl/homelab/pkg/remote"
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
	// StateDir is where homelab keeps what it learns of the lab (the
	// guests' SSH host keys, in known_hosts); empty means
	// StateDir(inv.Source.Path, inv.Name), .homelab/<name> beside the
	// inventory.
	StateDir string
	// KnownHosts is the known_hosts file of the guests' host keys; empty
	// means known_hosts in the state directory.
	KnownHosts string
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
	conn.SetLogger(logger)
	c.Router = conn
	if c.Proxmox, err = proxmoxClient(inv.Proxmox, opts, logger); err != nil {
		return c, err
	}
	// Guests homelab creates have host keys nobody knew before: they are
	// learned through the Proxmox API where it tells them, else trusted
	// on first use (unless ssh.host_keys is strict), and recorded beside
	// the inventory; a key that changes on a guest homelab did not
	// re-create is refused.
	known := opts.KnownHosts
	if known == "" {
		dir := opts.StateDir
		if dir == "" {
			dir = StateDir(inv.Source.Path, inv.Name)
		}
		known = filepath.Join(dir, "known_hosts")
	}
	return c.WithSSH(inv, SSHOptions{KnownHosts: known, Secrets: opts.Secrets, Remote: remote.Options{Logger: logger}}), nil
}

// proxmoxClient makes the go-proxmox client: token auth, TLS verified
// against the inventory's CA file or pin, a timeout on every request, and
// no go-proxmox retries (they re-send POSTs).
func proxmoxClient(p inventory.Proxmox, opts ConnectOptions, logger *slog.Logger) (*proxmox.Client, error) {
	secret, err := opts.Secrets.Resolve(p.TokenSecret)
	if err != nil {
		return nil, fmt.Errorf("proxmox token secret: %w", err)
	}
	u, err := url.Parse(p.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("proxmox endpoint %q: %w", p.Endpoint, err)
	}
	cfg, err := tlsconf.Config(p.TLS, u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("proxmox tls: %w", err)
	}
	if p.TLS.Insecure {
		logger.Warn("Proxmox TLS certificate is not verified (proxmox.tls.insecure)", "endpoint", p.Endpoint)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	httpClient := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}
	return proxmox.NewClient(pve.NewClient(p.Endpoint, pve.WithHTTPClient(httpClient), pve.WithAPIToken(p.TokenID, secret))), nil
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

// Close closes every client that holds a connection.
func (c Clients) Close() error {
	var errs []error
	if c.Router != nil {
		errs = append(errs, c.Router.Close())
	}
	if c.pool != nil {
		errs = append(errs, c.pool.Close())
	}
	return errors.Join(errs...)
}
