package pve

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// tokenState is an API token the server accepts.
type tokenState struct {
	id     string // user@realm!name
	user   string // user@realm
	name   string
	secret string
	// acl maps ACL paths to the token's entry there; nil grants
	// everything (a token of root@pam without privilege separation).
	acl map[string]aclEntry
}

// aclEntry is what one ACL path grants the token.
type aclEntry struct {
	privs map[string]bool
	// propagate: the grant also applies below the path.
	propagate bool
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
	ts.setPrivileges(t.Privileges, t.NoPropagate)
	return ts
}

func cleanACLPath(path string) string { return "/" + strings.Trim(path, "/") }

func (t *tokenState) setPrivileges(acl map[string][]string, noPropagate []string) {
	if acl == nil {
		t.acl = nil
		return
	}
	exact := map[string]bool{}
	for _, p := range noPropagate {
		exact[cleanACLPath(p)] = true
	}
	t.acl = map[string]aclEntry{}
	for path, privs := range acl {
		path = cleanACLPath(path)
		e, ok := t.acl[path]
		if !ok {
			e = aclEntry{privs: map[string]bool{}, propagate: !exact[path]}
		}
		for _, p := range privs {
			e.privs[p] = true
		}
		t.acl[path] = e
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

// SetPrivileges replaces a token's grants: ACL path to privileges
// (propagated below the path, as pveum's default), nil for everything.
func (s *Server) SetPrivileges(tokenID string, acl map[string][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.tokens[tokenID]
	if tok == nil {
		return fmt.Errorf("set privileges: no token %q", tokenID)
	}
	tok.setPrivileges(acl, nil)
	return nil
}

// reTokenSecret is the form of the secrets PVE makes for API tokens: a
// UUID (pveum user token add prints one).
var reTokenSecret = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// NewTokenSecret makes a token secret as PVE does: a random UUID.
func NewTokenSecret() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("pve simulator: no randomness: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// delayUnauthorized holds back the answer to a request that failed
// authentication, as pveproxy does ("always delay unauthorized calls by
// 3 seconds"), for Options.AuthFailureDelay.
func (s *Server) delayUnauthorized(ctx context.Context) {
	d := s.opts.AuthFailureDelay
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
