package inventory

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// SecretRef names where a secret is, never the secret itself: "env:NAME"
// reads an environment variable, "file:PATH" reads a file (trailing newline
// removed). The empty reference means "not set".
type SecretRef string

// Scheme returns "env" or "file", or "" for a reference of neither form.
func (r SecretRef) Scheme() string {
	scheme, _, ok := strings.Cut(string(r), ":")
	if !ok || (scheme != "env" && scheme != "file") {
		return ""
	}
	return scheme
}

// Target returns the variable name or the file path.
func (r SecretRef) Target() string {
	_, target, _ := strings.Cut(string(r), ":")
	return target
}

// String is safe to print: a reference is not a secret.
func (r SecretRef) String() string { return string(r) }

// check reports what is wrong with the reference's form, or "".
func (r SecretRef) check() string {
	if r == "" {
		return ""
	}
	if r.Scheme() == "" || r.Target() == "" {
		return "secrets are references (env:NAME or file:PATH), never values"
	}
	return ""
}

// Resolver turns secret references into values at run time. The zero
// Resolver reads the process environment and the file system.
type Resolver struct {
	LookupEnv func(name string) (string, bool)
	ReadFile  func(path string) ([]byte, error)
}

// Resolve returns the secret a reference names. Errors say which reference
// failed but never contain a value.
func (r Resolver) Resolve(ref SecretRef) (string, error) {
	lookup, read := r.LookupEnv, r.ReadFile
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if read == nil {
		read = os.ReadFile
	}
	switch ref.Scheme() {
	case "env":
		v, ok := lookup(ref.Target())
		if !ok {
			return "", fmt.Errorf("secret %s: environment variable %s is not set", ref, ref.Target())
		}
		return v, nil
	case "file":
		b, err := read(ExpandHome(ref.Target()))
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", ref, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	default:
		return "", fmt.Errorf("secret %q: not a reference (env:NAME or file:PATH)", string(ref))
	}
}

// ExpandHome resolves a leading ~/ in path against the user's home
// directory (as the inventory's file: references and paths are written).
func ExpandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return home + "/" + rest
		}
	}
	return path
}

// CheckVRRPPassword checks a VRRP password the way keepalived reads
// auth_pass: 1 to 8 printable ASCII characters (it silently truncates
// longer ones) without spaces, quotes, backslashes, braces, or "#" and "!"
// (keepalived starts a comment at either, even mid-word, and would
// silently cut the password there). Errors never contain the password.
func CheckVRRPPassword(pw string) error {
	if pw == "" {
		return errors.New("the VRRP password is empty")
	}
	for _, r := range pw {
		if r <= ' ' || r > '~' || strings.ContainsRune("\"'\\#!{}", r) {
			return errors.New("the VRRP password contains a character keepalived would misread (space, quote, backslash, brace, # or !, or not printable ASCII)")
		}
	}
	if len(pw) > 8 {
		return fmt.Errorf("the VRRP password is %d characters; it must be 1 to 8, as keepalived silently truncates auth_pass to 8", len(pw))
	}
	return nil
}
