package simlab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
)

// A simulated lab that keeps its state in a directory (Options.StateDir) lays it out so:
//
//	lab.json        the manifest: format, inventory name, the seed of the
//	                made-up secrets, and the simulators' state files
//	proxmox.json    the PVE simulator (pkg/sim/pve Save)
//	router.json     the RouterOS simulator (pkg/sim/routeros Save)
//	hosts/<guest>/  each guest's root (pkg/sim/host), its SSH host key in
//	                /etc/ssh; hosts/.state/ what the hosts keep besides
//	id_ed25519      the lab's SSH client key
//	known_hosts     the hosts' keys homelab trusted, by guest address
//	lock            held while a process has the lab open
//
// Simulators join the list in simStates; each owns one file.

// Dir is where the CLI keeps an inventory's simulated lab: simulated-lab/
// in the inventory's state directory (see homelab.StateDir).
func Dir(inventoryPath, inventoryName string) string {
	return filepath.Join(homelab.StateDir(inventoryPath, inventoryName), "simulated-lab")
}

// simLabFormat is the version of a simulated lab's directory layout.
const simLabFormat = 1

// simManifest is lab.json.
type simManifest struct {
	FormatVersion int    `json:"format_version"`
	Inventory     string `json:"inventory"`
	// SecretSeed makes the same secrets up on every run, so rendered
	// files do not change between runs.
	SecretSeed string `json:"secret_seed"`
	// State names the simulators' state files that were saved, by
	// simulator; a simulator not listed starts fresh.
	State map[string]string `json:"state,omitempty"`
}

// simState is one simulator's state, kept in one file of the directory.
type simState struct {
	name, file string
	save       func(io.Writer) error
	load       func(io.Reader) error
}

// simStates lists the simulators whose state the lab keeps, in the order
// they are loaded. A later simulator (pkg/sim/kube's cluster model, say)
// adds its Save and Load here, with a file of its own.
func (l *Lab) simStates() []simState {
	return []simState{
		{name: "proxmox", file: "proxmox.json", save: l.Proxmox.Save, load: l.Proxmox.Load},
		{name: "router", file: "router.json", save: l.Router.Save, load: l.Router.Load},
		{name: "kubernetes", file: "kubernetes.json", save: l.Kube.Save, load: l.Kube.Load},
	}
}

// openStateDir takes dir for a lab of inventory name: the lab's lock, and
// its manifest (a fresh one when dir holds no lab yet). A directory made
// for another inventory is refused.
func openStateDir(dir, name string) (*homelab.RunLock, *simManifest, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("simulated lab state %s: %w", dir, err)
	}
	lock, err := homelab.Lock(dir, "simulated lab")
	if err != nil {
		return nil, nil, fmt.Errorf("simulated lab state %s: %w", dir, err)
	}
	m, err := readManifest(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		m = &simManifest{FormatVersion: simLabFormat, Inventory: name, SecretSeed: randomSecret()}
		if err = writeManifest(dir, m); err == nil {
			return lock, m, nil
		}
	case err != nil:
	case m.FormatVersion != simLabFormat:
		err = fmt.Errorf("simulated lab state %s: layout version %d, this homelab reads %d; remove the directory to start over", dir, m.FormatVersion, simLabFormat)
	case m.Inventory != name:
		err = fmt.Errorf("simulated lab state %s was made for inventory %q, not %q: use another directory, or remove it to start over", dir, m.Inventory, name)
	default:
		return lock, m, nil
	}
	lock.Unlock()
	return nil, nil, err
}

func readManifest(dir string) (*simManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		return nil, err
	}
	var m simManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("simulated lab state %s: lab.json: %w", dir, err)
	}
	return &m, nil
}

func writeManifest(dir string, m *simManifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("simulated lab state: %w", err)
	}
	return writeAtomic(filepath.Join(dir, "lab.json"), append(b, '\n'))
}

// writeAtomic replaces file with data: a reader sees the old or the new.
func writeAtomic(file string, data []byte) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("simulated lab state: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("simulated lab state: %w", err)
	}
	return nil
}

// loadStates loads every simulator whose state the manifest lists.
func (l *Lab) loadStates(m *simManifest) error {
	for _, s := range l.simStates() {
		file, ok := m.State[s.name]
		if !ok {
			continue
		}
		f, err := os.Open(filepath.Join(l.stateDir, file))
		if err != nil {
			return fmt.Errorf("simulated lab state: %s: %w", s.name, err)
		}
		err = s.load(bufio.NewReader(f))
		f.Close()
		if err != nil {
			return fmt.Errorf("simulated lab state %s: %w", file, err)
		}
	}
	return nil
}

// ErrNoStateDir is Save of a lab started without Options.StateDir.
var ErrNoStateDir = errors.New("no state directory to save to")

// Save writes the lab's state to its StateDir (see Options), so a
// lab simulated later from it carries on from here; Close saves too. A
// lab without a StateDir has nothing to save to.
func (l *Lab) Save() error {
	if l.stateDir == "" {
		return fmt.Errorf("simulated lab: %w", ErrNoStateDir)
	}
	m := *l.manifest
	m.State = map[string]string{}
	for _, s := range l.simStates() {
		var buf bytes.Buffer
		if err := s.save(&buf); err != nil {
			return fmt.Errorf("simulated lab state: %s: %w", s.name, err)
		}
		if err := writeAtomic(filepath.Join(l.stateDir, s.file), buf.Bytes()); err != nil {
			return err
		}
		m.State[s.name] = s.file
	}
	if l.Hosts != nil {
		if err := l.Hosts.Save(); err != nil {
			return fmt.Errorf("simulated lab state: %w", err)
		}
	}
	if err := writeManifest(l.stateDir, &m); err != nil {
		return err
	}
	l.manifest = &m
	return nil
}

// guestSSHAddresses maps each guest's SSH address as known_hosts names it
// in the lab's saved state (the guest's own address and port) to the
// loopback address its simulated host answers on in this run.
func (l *Lab) guestSSHAddresses(inv *inventory.Inventory) map[string]string {
	out := map[string]string{}
	for i := range inv.Guests {
		g := &inv.Guests[i]
		ap := netip.AddrPortFrom(g.IP, uint16(sshUser(g).Port))
		if loop, ok := l.Hosts.Address(ap); ok {
			out[knownhosts.Normalize(ap.String())] = knownhosts.Normalize(loop)
		}
	}
	return out
}

// rewriteKnownHosts renames the hosts of a known_hosts file by names; a
// line for a host names does not map is kept when keep says so. Host keys
// are recorded under the address dialled, and the simulated hosts answer
// on other loopback ports in every run: the saved file names guests by
// their own addresses, the live one by this run's ports.
func rewriteKnownHosts(file string, names map[string]string, keep func(host string) bool) error {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("known hosts: %w", err)
	}
	var out strings.Builder
	rest := b
	for len(rest) > 0 {
		_, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("known hosts %s: %w", file, err)
		}
		rest = next
		var renamed []string
		for _, h := range hosts {
			if to, ok := names[h]; ok {
				renamed = append(renamed, to)
			} else if keep(h) {
				renamed = append(renamed, h)
			}
		}
		if len(renamed) > 0 {
			out.WriteString(knownhosts.Line(renamed, key) + "\n")
		}
	}
	return writeAtomic(file, []byte(out.String()))
}

// isLoopback reports whether a known_hosts host name is a loopback
// address: a port of an earlier run, meaningless now.
func isLoopback(host string) bool {
	h := strings.TrimPrefix(host, "[")
	if i := strings.Index(h, "]"); i >= 0 {
		h = h[:i]
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// Reset removes a simulated lab's state directory (see Dir), and nothing else: it refuses a directory that does
// not hold a simulated lab, and one a running process has open. It
// reports whether there was a lab to remove.
func Reset(dir string) (bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	held := false
	for _, name := range []string{"lab.json", "hosts", "id_ed25519"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			held = true
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("reset the simulated lab: %w", err)
	}
	if !held && len(entries) > 0 {
		return false, fmt.Errorf("reset the simulated lab: %s does not hold a simulated lab (no lab.json): not removing it", dir)
	}
	lock, err := homelab.Lock(dir, "sim reset")
	if err != nil {
		return false, fmt.Errorf("reset the simulated lab: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		lock.Unlock()
		return false, fmt.Errorf("reset the simulated lab: %w", err)
	}
	return true, nil
}
