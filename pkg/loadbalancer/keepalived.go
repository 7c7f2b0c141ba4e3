package loadbalancer

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

// CheckAuthPass checks a VRRP password before it goes into keepalived.conf
// as auth_pass: 1 to 8 printable ASCII characters (keepalived silently
// truncates longer ones) without spaces, quotes, backslashes, braces, or
// "#" and "!" (keepalived starts a comment at either, even mid-word, and
// would silently cut the password there). step.Redacted, the placeholder
// plans render instead of the secret, is accepted. Errors never contain
// the password.
func CheckAuthPass(pw string) error {
	if pw == step.Redacted {
		return nil
	}
	return inventory.CheckVRRPPassword(pw)
}

// authPassLine matches an auth_pass line with its value.
var authPassLine = regexp.MustCompile(`(?m)^([ \t]*auth_pass[ \t]+)[^\n]*$`)

// RedactAuthPass returns conf with every auth_pass value replaced by
// step.Redacted: what a plan may show of a keepalived.conf read from a
// host, e.g. to diff it with the rendered one.
func RedactAuthPass(conf []byte) []byte {
	return authPassLine.ReplaceAll(conf, []byte("${1}"+step.Redacted))
}

// StripScripts returns conf without its vrrp_script and track_script blocks
// and its notify* lines. keepalived 2.2.7 (Debian bookworm) ends
// `--config-test` of any config with a script by killing itself (exit 143),
// whatever the config; checking the stripped copy gives a real exit code
// for everything else. Comments (# and !) are respected; the blocks may open
// their brace on the keyword's line or the next.
func StripScripts(conf []byte) []byte {
	var out bytes.Buffer
	skipping, opened, depth := false, false, 0
	for _, line := range bytes.SplitAfter(conf, []byte("\n")) {
		code, opens, closes := scanLine(string(line))
		if !skipping {
			fields := strings.Fields(code)
			if len(fields) > 0 && strings.HasPrefix(fields[0], "notify") {
				continue
			}
			if len(fields) == 0 || (fields[0] != "vrrp_script" && fields[0] != "track_script") {
				out.Write(line)
				continue
			}
			skipping, opened, depth = true, false, 0
		}
		depth += opens - closes
		opened = opened || opens > 0
		if opened && depth <= 0 {
			skipping = false
		}
	}
	return out.Bytes()
}

// scanLine returns line up to its first # or ! outside double quotes, and
// the braces it opens and closes outside quotes.
func scanLine(line string) (code string, opens, closes int) {
	quoted := false
	for i, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case quoted:
		case r == '#' || r == '!':
			return line[:i], opens, closes
		case r == '{':
			opens++
		case r == '}':
			closes++
		}
	}
	return line, opens, closes
}
