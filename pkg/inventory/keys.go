package inventory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// MaxKeyFileSize is the largest file an authorized_keys file: reference
// may name (256 KiB: thousands of keys).
const MaxKeyFileSize = 256 << 10

// unresolvedKey is a file: entry of authorized_keys whose file could not
// be read when the inventory was loaded.
type unresolvedKey struct {
	field, ref, reason string
}

// resolveKeys fills Keys of every ssh block the file has (the defaults'
// and the guests' own, before guests inherit), reporting each bad key at
// its entry. A file that does not exist or may not be read here is a
// warning: validate and plan --offline run where the keys are not (CI, a
// reviewer's machine); CheckKeys makes it an error where guests are made.
func resolveKeys(ctx context.Context, inv *Inventory) Diagnostics {
	return resolveKeysIf(ctx, inv, func(*SSH) bool { return true })
}

// resolveKeysIf is resolveKeys for the ssh blocks want accepts.
func resolveKeysIf(ctx context.Context, inv *Inventory, want func(*SSH) bool) Diagnostics {
	var diags Diagnostics
	add := func(field, format string, sev Severity, args ...any) {
		diags = append(diags, Diagnostic{Pos: inv.Source.Pos(field), Field: field, Message: fmt.Sprintf(format, args...), Severity: sev})
	}
	resolve := func(field string, s *SSH) {
		if s == nil || !want(s) {
			return
		}
		s.Keys = nil
		for i, entry := range s.AuthorizedKeys {
			f := fmt.Sprintf("%s.authorized_keys[%d]", field, i)
			if ctx.Err() != nil {
				return
			}
			target, isFile := strings.CutPrefix(entry, "file:")
			if !isFile {
				key, err := authorizedKey(entry)
				if err != nil {
					add(f, "%v", SeverityError, err)
					continue
				}
				s.Keys = append(s.Keys, key)
				continue
			}
			if target == "" {
				add(f, "file: names no file", SeverityError)
				continue
			}
			data, err := readBounded(ctx, ExpandHome(target), MaxKeyFileSize)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				reason := err.Error()
				s.unresolved = append(s.unresolved, unresolvedKey{field: f, ref: entry, reason: reason})
				add(f, "%s cannot be read here (%s): commands that create guests stop until it can", SeverityWarning, entry, reason)
				continue
			}
			if err != nil {
				add(f, "%s: %v", SeverityError, entry, err)
				continue
			}
			keys, err := keyLines(data)
			if err != nil {
				add(f, "%s: %v", SeverityError, entry, err)
				continue
			}
			s.Keys = append(s.Keys, keys...)
		}
	}
	resolve("defaults.vm.ssh", inv.Defaults.VM.SSH)
	resolve("defaults.lxc.ssh", inv.Defaults.LXC.SSH)
	for i := range inv.Guests {
		resolve(fmt.Sprintf("guests[%d].ssh", i), inv.Guests[i].SSH)
	}
	return diags
}

// keyLines parses every non-empty line that is not a comment as one
// public key.
func keyLines(data []byte) ([]string, error) {
	var keys []string
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := authorizedKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("holds no public key")
	}
	return keys, nil
}

// authorizedKey parses one authorized_keys line (without options) and
// returns it as x/crypto/ssh marshals it, with its comment.
func authorizedKey(line string) (string, error) {
	if strings.ContainsFunc(line, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
		return "", errors.New("not an SSH public key: one key per entry, on one line, without control characters")
	}
	pub, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return "", fmt.Errorf("not an SSH public key (want e.g. \"ssh-ed25519 AAAA... user@host\"): %v", err)
	}
	if len(options) > 0 {
		return "", fmt.Errorf("authorized_keys options (%s) are not supported: give the key alone", strings.Join(options, ","))
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return "", errors.New("more than one key on one line")
	}
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if comment != "" {
		key += " " + comment
	}
	return key, nil
}

// CheckKeys reports, as errors at their entries, the authorized_keys
// files of the named guests (every guest when none is named) that could
// not be read when the inventory was loaded: a guest made now would lack
// those keys. Load reports them only as warnings, so that validate and
// plan --offline work where the keys are not; commands that create guests
// call CheckKeys first.
func (inv *Inventory) CheckKeys(guests ...string) error {
	v := &validator{inv: inv}
	seen := map[string]bool{}
	for i := range inv.Guests {
		g := &inv.Guests[i]
		if g.SSH == nil || (len(guests) > 0 && !slices.Contains(guests, g.Name)) {
			continue
		}
		for _, u := range g.SSH.unresolved {
			if !seen[u.field] { // a defaults entry is reported once
				seen[u.field] = true
				v.errorf(u.field, "%s cannot be read (%s): guests made without it would lack the key", u.ref, u.reason)
			}
		}
	}
	v.diags.sort()
	return v.diags.Err()
}
