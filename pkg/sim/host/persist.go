package host

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// A host's files live in its root for good; what a real host keeps in
// places the simulation does not model (inode owners, systemd's enable
// links) is kept in a state file beside the roots, written by Lab.Save
// and Lab.Close:
//
//	<Dir>/<name>/                       the host's root (its file system)
//	<Dir>/<name>/etc/ssh/ssh_host_ed25519_key   its SSH host key
//	<Dir>/.state/<name>.json            enabled units, file owners

// hostKeyPath is where a Debian host keeps its ed25519 host key.
const hostKeyPath = "/etc/ssh/ssh_host_ed25519_key"

// savedHost is the state file of one host.
type savedHost struct {
	FormatVersion int `json:"format_version"`
	// Enabled says, per unit of an installed package, whether it starts
	// at boot.
	Enabled map[string]bool `json:"enabled"`
	// Owners are the files not owned by root:root, by host path.
	Owners []savedOwner `json:"owners,omitempty"`
	// VRRPMaster are the virtual router IDs the host was MASTER of: a
	// lab taken up again keeps its VIP holders (the real lab went on
	// running between two processes), instead of electing anew.
	VRRPMaster []int `json:"vrrp_master,omitempty"`
}

type savedOwner struct {
	Path  string `json:"path"`
	User  string `json:"user"`
	Group string `json:"group"`
}

// stateFile is where the lab keeps the state file of the host name.
func (l *Lab) stateFile(name string) string {
	return filepath.Join(l.dir, ".state", name+".json")
}

// seeded reports whether root holds a host made before (its package
// database is there): Add boots it instead of seeding a fresh one.
func seeded(root string) bool {
	_, err := os.Stat(filepath.Join(root, "var", "lib", "dpkg", "status"))
	return err == nil
}

// hostKey returns the host's SSH key from its root, making one (and
// writing it there) when the host has none.
func (h *Host) hostKey() (ssh.Signer, error) {
	if b, err := h.readFile(hostKeyPath); err == nil {
		key, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", hostKeyPath, err)
		}
		return key, nil
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "root@"+h.spec.Name)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	if err := h.writeFile(hostKeyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " root@" + h.spec.Name + "\n"
	if err := h.writeFile(hostKeyPath+".pub", []byte(line), 0o644); err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	return ssh.NewSignerFromKey(priv)
}

// restore takes up a host whose root was made before: systemd's units of
// its installed packages, enabled as they were, and its files' owners.
// Nothing runs yet: the host boots when its power is first seen on.
func (h *Host) restore() error {
	var saved savedHost
	switch b, err := os.ReadFile(h.lab.stateFile(h.spec.Name)); {
	case err == nil:
		if err := json.Unmarshal(b, &saved); err != nil {
			return fmt.Errorf("state file: %w", err)
		}
	case errors.Is(err, fs.ErrNotExist):
		// Never saved (the lab was not closed): the packages' defaults,
		// and the login users' homes theirs.
		for _, u := range h.spec.Users {
			saved.Owners = append(saved.Owners, savedOwner{Path: "/home/" + u, User: u, Group: u})
		}
	default:
		return fmt.Errorf("state file: %w", err)
	}
	db, err := h.packageDB()
	if err != nil {
		return fmt.Errorf("package database: %w", err)
	}
	for _, p := range db {
		pkg, ok := h.lab.packages[p.name]
		if !ok {
			continue
		}
		for _, u := range pkg.Units {
			enabled, ok := saved.Enabled[u]
			if !ok {
				enabled = slices.Contains(pkg.Enable, u)
			}
			digest, wants := h.dropIns(u)
			h.units[u] = &unit{name: u, pkg: pkg.Name, enabled: enabled, loaded: digest, wants: wants}
		}
	}
	h.lab.refreshMu.Lock()
	for _, vrid := range saved.VRRPMaster {
		if h.lab.restored[vrid] == nil {
			h.lab.restored[vrid] = map[string]bool{}
		}
		h.lab.restored[vrid][h.spec.Name] = true
	}
	h.lab.refreshMu.Unlock()
	for _, o := range saved.Owners {
		if err := h.owners.SetOwner(h.local("/", o.Path), o.User, o.Group); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("owner of %s: %w", o.Path, err)
		}
	}
	return nil
}

// save writes the host's state file.
func (h *Host) save() error {
	h.mu.Lock()
	out := savedHost{FormatVersion: 1, Enabled: map[string]bool{}}
	for _, n := range slices.Sorted(maps.Keys(h.units)) {
		out.Enabled[n] = h.units[n].enabled
	}
	h.mu.Unlock()
	h.lab.refreshMu.Lock()
	for vrid, st := range h.lab.vrrp {
		if s := st[h.spec.Name]; s != nil && s.master {
			out.VRRPMaster = append(out.VRRPMaster, vrid)
		}
	}
	h.lab.refreshMu.Unlock()
	slices.Sort(out.VRRPMaster)
	err := filepath.WalkDir(h.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return nil // gone meanwhile, or a link: its target is listed
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if user, group := h.owners.Owner(fi); user != "root" || group != "root" {
			rel, _ := filepath.Rel(h.root, p)
			out.Owners = append(out.Owners, savedOwner{Path: "/" + filepath.ToSlash(rel), User: user, Group: group})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("simulated host %s: owners: %w", h.spec.Name, err)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("simulated host %s: state: %w", h.spec.Name, err)
	}
	file := h.lab.stateFile(h.spec.Name)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("simulated host %s: state: %w", h.spec.Name, err)
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("simulated host %s: state: %w", h.spec.Name, err)
	}
	return nil
}

// Save writes what each host keeps beyond its files (enabled units, file
// owners) to the lab's Dir, so that a Lab opened later on the same Dir
// takes the hosts up as they were. Close saves too, unless Dir is a
// temporary directory.
func (l *Lab) Save() error {
	var errs []error
	for _, h := range l.Hosts() {
		errs = append(errs, h.save())
	}
	return errors.Join(errs...)
}
