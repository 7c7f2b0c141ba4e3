package homelab_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
)

// anySecret resolves every reference to one made-up value.
var anySecret = inventory.Resolver{
	LookupEnv: func(string) (string, bool) { return "secret", true },
	ReadFile:  func(string) ([]byte, error) { return []byte("secret"), nil },
}

// Where Connect's clients keep the guests' SSH host keys: known_hosts in
// the state directory beside the inventory by default, in the state
// directory the options name, or in the file they name. Nothing is
// dialled.
func TestConnectKnownHostsByOption(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	other := t.TempDir()
	for _, tt := range []struct {
		name string
		opts ConnectOptions
		want string
	}{
		{"default", ConnectOptions{}, filepath.Join(StateDir(inv.Source.Path, inv.Name), "known_hosts")},
		{"state dir", ConnectOptions{StateDir: other}, filepath.Join(other, "known_hosts")},
		{"file", ConnectOptions{StateDir: other, KnownHosts: filepath.Join(other, "hosts.txt")}, filepath.Join(other, "hosts.txt")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Secrets = anySecret
			c, err := Connect(context.Background(), inv, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cfg, err := c.HostConfig("lb-1")
			if err != nil || cfg.HostKeys.TOFUFile != tt.want {
				t.Errorf("known_hosts %q (%v), want %q", cfg.HostKeys.TOFUFile, err, tt.want)
			}
		})
	}
}

// The errors callers branch on are typed or wrap a sentinel: a guest the
// inventory lacks, a removal not made by DownPlan.
func TestTypedErrors(t *testing.T) {
	inv := loadInventory(t, "../../inventories/small.yaml")
	c, err := Connect(context.Background(), inv, ConnectOptions{StateDir: t.TempDir(), Secrets: anySecret})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ue *UnknownGuestError
	if _, err := c.Hosts("no-such-guest"); !errors.As(err, &ue) || ue.Guest != "no-such-guest" {
		t.Errorf("SSH to an unknown guest: %v", err)
	}
	if _, err := c.HostConfig("no-such-guest"); !errors.As(err, &ue) {
		t.Errorf("the host keys of an unknown guest: %v", err)
	}
	err = Down(context.Background(), []Removal{{Phase: "guests", What: "vm lb-1"}}, io.Discard)
	if !errors.Is(err, ErrNotFromDownPlan) {
		t.Errorf("a removal not from DownPlan: %v", err)
	}
}
