package homelab

import (
	"context"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
)

// hostKeyBook is homelab's record of its guests' SSH host keys: the
// proxmox.HostKeys the guests phase keeps, over pkg/remote's known_hosts
// file (the TOFU file of the guests' host key policy).
type hostKeyBook struct {
	pool *remote.Pool
	file string
	// config is how a guest is reached (its address as dialled).
	config func(guest string) (remote.Config, error)
}

// newHostKeyBook returns the book for inv's guests as policy reaches them.
func newHostKeyBook(inv *inventory.Inventory, policy sshPolicy) *hostKeyBook {
	config := func(name string) (remote.Config, error) {
		g, ok := inv.Guest(name)
		if !ok {
			return remote.Config{}, &UnknownGuestError{Guest: name}
		}
		return policy.config(g)
	}
	return &hostKeyBook{pool: policy.pool, file: policy.hostKeys.TOFUFile, config: config}
}

func (b *hostKeyBook) address(guest string) (string, error) {
	cfg, err := b.config(guest)
	if err != nil {
		return "", err
	}
	if cfg.Address == "" {
		return "", fmt.Errorf("ssh %s: %w", guest, ErrNoAddress)
	}
	return cfg.Address, nil
}

// Forget drops guest's recorded host keys.
func (b *hostKeyBook) Forget(guest string) error {
	addr, err := b.address(guest)
	if err != nil {
		return err
	}
	_, err = b.pool.ForgetHostKeys(b.file, addr)
	return err
}

// Expect records the fingerprints guest's keys will have.
func (b *hostKeyBook) Expect(guest string, fingerprints []string, source string) error {
	addr, err := b.address(guest)
	if err != nil {
		return err
	}
	return b.pool.ExpectHostKeys(b.file, addr, fingerprints, source)
}

// Learn records guest's public host key.
func (b *hostKeyBook) Learn(guest string, authorizedKey []byte) error {
	addr, err := b.address(guest)
	if err != nil {
		return err
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey(authorizedKey)
	if err != nil {
		return fmt.Errorf("host key of %s: %w", guest, err)
	}
	return b.pool.AddHostKey(b.file, addr, key)
}

// Known reports whether anything is recorded for guest.
func (b *hostKeyBook) Known(guest string) bool {
	addr, err := b.address(guest)
	if err != nil {
		return false
	}
	return b.pool.KnowsHost(b.file, addr)
}

// Check checks the key guest presents.
func (b *hostKeyBook) Check(ctx context.Context, guest string) (string, error) {
	cfg, err := b.config(guest)
	if err != nil {
		return "", err
	}
	return b.pool.CheckHostKey(ctx, cfg)
}
