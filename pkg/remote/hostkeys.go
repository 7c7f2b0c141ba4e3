package remote

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is a host key that was refused: a known host presenting
// another key (Changed), or a host missing from a read-only known_hosts file.
type HostKeyError struct {
	// Host is the host's name and Address the name it was looked up by.
	Host, Address string
	// Fingerprint is the SHA256 fingerprint of the key the host presented.
	Fingerprint string
	// File is the known_hosts file consulted.
	File string
	// Changed is true for a known host with another key, false for an
	// unknown host.
	Changed bool
	// Strict is true for an unknown host refused by a strict policy
	// (HostKeyPolicy.Strict).
	Strict bool
	// Expected are the keys on file for the host (when Changed), with the
	// file and line that hold each.
	Expected []KnownKey
}

// KnownKey is a host key recorded in a known_hosts file.
type KnownKey struct {
	// Fingerprint is the key's SHA256 fingerprint (SHA256:...).
	Fingerprint string
	// File and Line locate the key's entry.
	File string
	Line int
}

// Error names the host, the expected and presented keys and where the
// expected ones are recorded.
func (e *HostKeyError) Error() string {
	if e.Changed {
		var want []string
		for _, k := range e.Expected {
			want = append(want, fmt.Sprintf("%s (%s:%d)", k.Fingerprint, k.File, k.Line))
		}
		expected := "another key"
		if len(want) > 0 {
			expected = strings.Join(want, ", ")
		}
		return fmt.Sprintf("ssh %s: host key changed: %s presented %s, but %s expects %s "+
			"(if the host was reinstalled, remove that line and connect again)",
			e.Host, e.Address, e.Fingerprint, e.File, expected)
	}
	if e.Strict {
		return fmt.Sprintf("ssh %s: host key unknown: %s presented %s, which is not in %s, and strict host key checking "+
			"trusts nothing on first use (check the fingerprint out of band, then add the key to that file)", e.Host, e.Address, e.Fingerprint, e.File)
	}
	return fmt.Sprintf("ssh %s: host key unknown: %s presented %s, which is not in %s", e.Host, e.Address, e.Fingerprint, e.File)
}

// keyError converts a knownhosts error into a HostKeyError.
func keyError(name, hostname, file string, key ssh.PublicKey, ke *knownhosts.KeyError) *HostKeyError {
	e := &HostKeyError{Host: name, Address: hostname, Fingerprint: ssh.FingerprintSHA256(key),
		File: file, Changed: len(ke.Want) > 0}
	for _, k := range ke.Want {
		e.Expected = append(e.Expected, KnownKey{Fingerprint: ssh.FingerprintSHA256(k.Key), File: k.Filename, Line: k.Line})
	}
	return e
}

// fakeAddr is a net.Addr that prints as the host name being checked, so
// knownhosts looks up only that name.
type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// hostKeyCheck returns the host key callback for cfg and the host key
// algorithms to offer (those of the keys already known for the host, so a
// server with several keys presents the one on file; nil: defaults).
func (p *Pool) hostKeyCheck(cfg *Config, pr *probe) (ssh.HostKeyCallback, []string, error) {
	pol := cfg.HostKeys
	name := cfg.name()
	if pol.Insecure {
		p.warnOnce.Do(func() {
			p.log.Warn("ssh host keys are NOT verified (insecure mode): anyone on the path can impersonate a host",
				"host", name)
		})
		return ssh.InsecureIgnoreHostKey(), nil, nil
	}
	if pol.KnownHostsFile == "" && pol.TOFUFile == "" {
		return nil, nil, fmt.Errorf("ssh %s: no host key policy: set KnownHostsFile, TOFUFile or Insecure", name)
	}
	var algos []string
	var known ssh.HostKeyCallback
	if pol.KnownHostsFile != "" {
		cb, err := p.knownHosts(pol.KnownHostsFile)
		if err != nil {
			return nil, nil, fmt.Errorf("ssh %s: known hosts: %w", name, err)
		}
		known = cb
		algos = knownAlgorithms(cb, hostKeyAddress(cfg.Address))
	}
	if pol.TOFUFile != "" && algos == nil {
		p.tofuMu.Lock()
		if cannotKnow(pol.TOFUFile, hostKeyAddress(cfg.Address)) {
			// Nothing to offer first: the defaults.
		} else if cb, err := p.knownHosts(pol.TOFUFile); err == nil {
			algos = knownAlgorithms(cb, hostKeyAddress(cfg.Address))
		}
		p.tofuMu.Unlock()
	}
	check := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		if known != nil {
			err := known(hostname, remote, key)
			var ke *knownhosts.KeyError
			switch {
			case err == nil:
				pr.accept("")
				return nil
			case errors.As(err, &ke) && (len(ke.Want) > 0 || pol.TOFUFile == ""):
				return keyError(name, hostname, pol.KnownHostsFile, key, ke)
			case !errors.As(err, &ke):
				return fmt.Errorf("ssh %s: known hosts: %w", name, err)
			}
		}
		note, err := p.trustOnFirstUse(name, pol, hostname, remote, key)
		if err != nil {
			return err
		}
		pr.accept(note)
		return nil
	}
	return check, algos, nil
}

// hostKeyAddress is the name host keys are recorded under (host:port).
func hostKeyAddress(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return net.JoinHostPort(addr, "22")
	}
	return addr
}

// trustOnFirstUse checks key against pol's TOFU file. A host the file
// does not know is trusted when its key has the fingerprint recorded for
// it through an authenticated channel (ExpectHostKeys), refused when it
// has another, and otherwise trusted on first use unless pol is Strict.
// The key is then appended; note says how it was trusted ("" when it was
// known).
func (p *Pool) trustOnFirstUse(name string, pol HostKeyPolicy, hostname string, remote net.Addr, key ssh.PublicKey) (note string, err error) {
	file := pol.TOFUFile
	p.tofuMu.Lock()
	defer p.tofuMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", fmt.Errorf("ssh %s: host keys: %w", name, err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("ssh %s: host keys: %w", name, err)
	}
	f.Close()
	if cannotKnow(file, hostname) {
		err = &knownhosts.KeyError{} // what the parsed file answers
	} else {
		cb, perr := p.knownHosts(file)
		if perr != nil {
			return "", fmt.Errorf("ssh %s: host keys: %w", name, perr)
		}
		err = cb(hostname, remote, key)
	}
	var ke *knownhosts.KeyError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &ke) && len(ke.Want) > 0:
		return "", keyError(name, hostname, file, key, ke)
	case !errors.As(err, &ke):
		return "", fmt.Errorf("ssh %s: host keys: %w", name, err)
	}
	fp := ssh.FingerprintSHA256(key)
	lines, err := readLines(file)
	if err != nil {
		return "", fmt.Errorf("ssh %s: host keys: %w", name, err)
	}
	addr := knownhosts.Normalize(hostname)
	exp, line, ok := expectation(lines, addr)
	switch {
	case ok && !slices.Contains(exp.fingerprints, fp):
		e := &HostKeyError{Host: name, Address: hostname, Fingerprint: fp, File: file, Changed: true}
		for _, want := range exp.fingerprints {
			e.Expected = append(e.Expected, KnownKey{Fingerprint: want, File: file, Line: line + 1})
		}
		return "", e
	case ok:
		note = fmt.Sprintf("host key %s of %s matches %s", fp, name, exp.source)
	case pol.Strict:
		return "", &HostKeyError{Host: name, Address: hostname, Fingerprint: fp, File: file, Strict: true}
	default:
		note = fmt.Sprintf("trusting host key %s of %s on first use", fp, name)
	}
	kept := dropHost(lines, addr)
	kept = append(kept, knownhosts.Line([]string{hostname}, key))
	if err := writeLines(file, kept); err != nil {
		return "", fmt.Errorf("ssh %s: host keys: %w", name, err)
	}
	p.log.Info("ssh: "+note, "host", name, "address", hostname, "fingerprint", fp, "file", file)
	return note, nil
}

// cannotKnow reports whether the known_hosts file certainly says nothing
// about address: no line names it, and none could match it or its
// key otherwise (a hashed name, a wildcard or negated pattern, a marker
// such as @revoked, which applies to a key whatever the host). It reads
// the file's bytes only: parsing the file (x/crypto's knownhosts) for
// every new guest, under the pool's lock, was quadratic in a lab of a
// thousand guests, and its connections timed out waiting for it.
func cannotKnow(file, address string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	// A line names the host as knownhosts.Normalize writes it: the bare
	// host for port 22 (or inside "[host]:22"), "[host]:port" otherwise.
	host := knownhosts.Normalize(address)
	if host == "" || bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(host))) {
		return false
	}
	return !bytes.ContainsAny(b, "|*?!@")
}

// knownAlgorithms returns the host key algorithms of the keys cb knows for
// addr, or nil when it knows none.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(cb(addr, fakeAddr(addr), probe), &ke) {
		return nil
	}
	var algos []string
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, t)
		}
	}
	return algos
}

// parsedKnownHosts is a known_hosts file as read, and which version of it.
type parsedKnownHosts struct {
	size    int64
	modTime time.Time
	check   ssh.HostKeyCallback
}

// knownHosts is knownhosts.New(file), parsed again only when the file
// changed (its size or modification time): a lab of a thousand guests
// connects a thousand times to check keys against a file of a thousand
// lines.
func (p *Pool) knownHosts(file string) (ssh.HostKeyCallback, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return knownhosts.New(file)
	}
	p.parsedMu.Lock()
	defer p.parsedMu.Unlock()
	if k, ok := p.parsed[file]; ok && k.size == fi.Size() && k.modTime.Equal(fi.ModTime()) {
		return k.check, nil
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, err
	}
	if p.parsed == nil {
		p.parsed = map[string]parsedKnownHosts{}
	}
	p.parsed[file] = parsedKnownHosts{size: fi.Size(), modTime: fi.ModTime(), check: cb}
	return cb, nil
}
