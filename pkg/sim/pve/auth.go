package pve

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// tokenState is an API token the server accepts.
type tokenState struct {
	id     string // user@realm!name
	user   string // user@realm
	name   string
	secret string
	// privs maps ACL paths to privileges; nil grants everything.
	privs map[string]map[string]bool
}

func splitTokenID(id string) (user, name string, ok bool) {
	user, name, ok = strings.Cut(id, "!")
	if !ok || name == "" || !strings.Contains(user, "@") || strings.ContainsAny(id, " :=") {
		return "", "", false
	}
	return user, name, true
}

func newTokenState(t Token) *tokenState {
	user, name, _ := splitTokenID(t.ID)
	ts := &tokenState{id: t.ID, user: user, name: name, secret: t.Secret}
	ts.setPrivileges(t.Privileges)
	return ts
}

func (t *tokenState) setPrivileges(acl map[string][]string) {
	if acl == nil {
		t.privs = nil
		return
	}
	t.privs = map[string]map[string]bool{}
	for path, privs := range acl {
		path = "/" + strings.Trim(path, "/")
		if t.privs[path] == nil {
			t.privs[path] = map[string]bool{}
		}
		for _, p := range privs {
			t.privs[path][p] = true
		}
	}
}

// allowed reports whether priv is granted on path or above it (grants
// propagate down the ACL tree).
func (t *tokenState) allowed(path, priv string) bool {
	if t.privs == nil {
		return true
	}
	p := "/" + strings.Trim(path, "/")
	for {
		if t.privs[p][priv] {
			return true
		}
		if p == "/" {
			return false
		}
		i := strings.LastIndex(p, "/")
		p = p[:i]
		if p == "" {
			p = "/"
		}
	}
}

// authenticate checks the PVEAPIToken header as pveproxy does.
func (s *Server) authenticate(r *http.Request) (*tokenState, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &apiError{status: http.StatusUnauthorized, msg: "No ticket"}
	}
	v, ok := strings.CutPrefix(h, "PVEAPIToken=")
	if !ok {
		return nil, &apiError{status: http.StatusUnauthorized, msg: "No ticket"}
	}
	id, secret, ok := strings.Cut(strings.TrimSpace(v), "=")
	user, name, idOK := splitTokenID(id)
	if !ok || !idOK {
		return nil, &apiError{status: http.StatusUnauthorized, msg: "Authentication failed!"}
	}
	tok := s.tokens[id]
	if tok == nil {
		return nil, &apiError{status: http.StatusUnauthorized, msg: fmt.Sprintf("no such token '%s' for user '%s'", name, user)}
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(tok.secret)) != 1 {
		return nil, &apiError{status: http.StatusUnauthorized, msg: "invalid token value!"}
	}
	return tok, nil
}

// permCheck requires one of privs on an ACL path.
type permCheck struct {
	path  string
	privs []string
}

func need(path string, privs ...string) permCheck { return permCheck{path: path, privs: privs} }

// authorize runs a route's checks; the first that fails is PVE's 403.
func authorize(tok *tokenState, checks []permCheck) *apiError {
	for _, pc := range checks {
		ok := false
		for _, p := range pc.privs {
			if tok.allowed(pc.path, p) {
				ok = true
				break
			}
		}
		if !ok {
			return &apiError{status: http.StatusForbidden, msg: fmt.Sprintf("Permission check failed (%s, %s)", pc.path, strings.Join(pc.privs, "|"))}
		}
	}
	return nil
}

// SetPrivileges replaces a token's grants: ACL path to privileges, nil
// for everything.
func (s *Server) SetPrivileges(tokenID string, acl map[string][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.tokens[tokenID]
	if tok == nil {
		return fmt.Errorf("set privileges: no token %q", tokenID)
	}
	tok.setPrivileges(acl)
	return nil
}

// vmConfigPriv is the privilege PVE's check_vm_modify_config_perm asks
// for a VM configuration key.
func vmConfigPriv(key string) string {
	base := strings.TrimRightFunc(key, func(r rune) bool { return r >= '0' && r <= '9' })
	switch base {
	case "cores", "sockets", "vcpus", "cpu", "cpulimit", "cpuunits", "numa", "affinity":
		return "VM.Config.CPU"
	case "memory", "balloon", "shares":
		return "VM.Config.Memory"
	case "net":
		return "VM.Config.Network"
	case "ipconfig", "ciuser", "cipassword", "sshkeys", "nameserver", "searchdomain", "cicustom", "citype", "ciupgrade":
		return "VM.Config.Cloudinit"
	case "scsi", "virtio", "sata", "ide", "efidisk", "tpmstate", "unused":
		return "VM.Config.Disk"
	case "hostpci", "usb", "serial", "parallel", "vga", "audio", "rng":
		return "VM.Config.HWType"
	case "digest", "skiplock", "background_delay", "node", "vmid", "delete", "revert":
		return ""
	}
	return "VM.Config.Options"
}

// ctConfigPriv is the same for container keys (pve-container
// check_ct_modify_config_perm).
func ctConfigPriv(key string) string {
	base := strings.TrimRightFunc(key, func(r rune) bool { return r >= '0' && r <= '9' })
	switch base {
	case "cores", "cpulimit", "cpuunits":
		return "VM.Config.CPU"
	case "memory", "swap":
		return "VM.Config.Memory"
	case "net", "nameserver", "searchdomain":
		return "VM.Config.Network"
	case "rootfs", "mp", "unused":
		return "VM.Config.Disk"
	case "digest", "node", "vmid", "delete", "revert":
		return ""
	}
	return "VM.Config.Options"
}

// configChecks lists the privileges a configuration change needs, keys
// named in delete included.
func configChecks(vmid string, params map[string]string, priv func(string) string) []permCheck {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	keys = append(keys, splitList(params["delete"])...)
	seen := map[string]bool{}
	var out []permCheck
	for _, k := range sortedUnique(keys) {
		p := priv(k)
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, need("/vms/"+vmid, p))
	}
	return out
}
