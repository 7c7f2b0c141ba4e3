package pve

import (
	"strings"

	"golang.org/x/crypto/ssh"
)

// msgSSHKeys is what PVE::Tools::validate_ssh_public_keys dies with. It
// is a plain die in the API handler, not a parameter exception, so
// pveproxy answers 500 with it as the reason phrase and message.
const msgSSHKeys = "SSH public key validation error"

// validateSSHKeys is pve-common's validate_ssh_public_keys: every line
// that is not blank must be a public key `ssh-keygen -l` reads (an
// authorized_keys line: options, type, base64 blob, comment). VM create
// and VM config call it on sshkeys after uri_unescape, CT create on
// ssh-public-keys as sent.
func validateSSHKeys(raw string) *apiError {
	for _, line := range strings.Split(raw, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil {
			return fail(msgSSHKeys)
		}
	}
	return nil
}

// uriUnescape is Perl's URI::Escape::uri_unescape: every %XX becomes its
// byte; anything else, a lone % or a + included, stays as it is.
func uriUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// checkSSHKeysParam validates an URI-encoded sshkeys parameter of a VM
// create or config call, if present.
func checkSSHKeysParam(params map[string]string) *apiError {
	v, ok := params["sshkeys"]
	if !ok {
		return nil
	}
	return validateSSHKeys(uriUnescape(v))
}
