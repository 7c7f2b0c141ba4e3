package host

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// machineIDPath holds the ID of the machine the host's disk belongs to
// (Spec.Instance's ID).
const machineIDPath = "/etc/machine-id"

// recreated reports whether the host runs as another instance than the
// one Spec.Instance names now (only once it ran as one: a host that never
// ran as an instance boots as one anyway).
func (h *Host) recreated() bool {
	if h.spec.Instance == nil {
		return false
	}
	id, _ := h.spec.Instance()
	h.mu.Lock()
	defer h.mu.Unlock()
	return id != "" && h.instance != "" && id != h.instance
}

// reinstance makes the host the machine Spec.Instance names: when its
// disk belongs to another (the guest was destroyed and created again),
// the disk is blank again (seeded afresh, with Spec.Packages) and holds
// the new machine's SSH host key, which the SSH server presents from now
// on. Called at power on, before the host boots.
func (h *Host) reinstance() error {
	if h.spec.Instance == nil {
		return nil
	}
	id, key := h.spec.Instance()
	if id == "" {
		return nil
	}
	have, _ := h.readFile(machineIDPath)
	if strings.TrimSpace(string(have)) == id {
		h.mu.Lock()
		h.instance = id
		h.mu.Unlock()
		return nil
	}
	var signer ssh.Signer
	if key != nil {
		var err error
		if signer, err = ssh.ParsePrivateKey(key); err != nil {
			return fmt.Errorf("host key of instance %s: %w", id, err)
		}
	}
	if len(have) > 0 {
		h.lab.log.Info("simulated host: a new machine: its disk is blank", "host", h.spec.Name, "instance", id)
	}
	h.mu.Lock()
	h.instance = id
	h.units, h.sysctl = map[string]*unit{}, map[string]string{}
	h.haproxy, h.keepalived, h.held = nil, nil, nil
	h.services, h.certs = map[uint16]http.Handler{}, map[uint16][]byte{}
	h.mu.Unlock()
	h.owners.Reset()
	entries, err := os.ReadDir(h.root)
	if err != nil {
		return fmt.Errorf("blank the disk: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(h.local("/", "/"+e.Name())); err != nil {
			return fmt.Errorf("blank the disk: %w", err)
		}
	}
	if err := h.seed(); err != nil {
		return fmt.Errorf("seed the blank disk: %w", err)
	}
	for _, p := range h.spec.Packages {
		if err := h.install(p); err != nil {
			return err
		}
	}
	if err := h.writeFile(machineIDPath, []byte(id+"\n"), 0o444); err != nil {
		return err
	}
	if signer == nil {
		// No key given: the host makes its own, as a cloud image's first
		// boot does.
		if signer, err = h.hostKey(); err != nil {
			return err
		}
	} else {
		if err := h.writeFile(hostKeyPath, key, 0o600); err != nil {
			return fmt.Errorf("host key: %w", err)
		}
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " root@" + h.spec.Name + "\n"
		if err := h.writeFile(hostKeyPath+".pub", []byte(line), 0o644); err != nil {
			return fmt.Errorf("host key: %w", err)
		}
	}
	h.srv.SetHostKey(signer)
	if h.lab.opts.Wiped != nil {
		h.lab.opts.Wiped(h)
	}
	return nil
}
