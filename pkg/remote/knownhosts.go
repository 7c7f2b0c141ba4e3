package remote

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// homelab keeps its own known_hosts file (HostKeyPolicy.TOFUFile). When
// it creates or removes a guest, the guest's old lines are forgotten
// (ForgetHostKeys); what PVE's authenticated API says of the new guest's
// keys is recorded before the first connection: the full key (AddHostKey,
// from the guest agent) or the fingerprints (ExpectHostKeys, from a
// container's create task log), the latter as a comment line OpenSSH
// ignores:
//
//	# homelab: expect [10.0.0.5]:22 SHA256:...,SHA256:... from <source>
//
// The first connection then trusts a key with such a fingerprint (and
// writes its line), and refuses any other.

const expectPrefix = "# homelab: expect "

// probe is a connection made only to check a host's key (CheckHostKey):
// no credentials offered; checked and note say what the check found.
type probe struct {
	checked bool
	note    string
}

// accept records that the host key passed (a nil probe records nothing).
func (pr *probe) accept(note string) {
	if pr != nil {
		pr.checked, pr.note = true, note
	}
}

// CheckHostKey connects to cfg's host only as far as its host key, checked
// under cfg's policy as any connection's is (an unknown host's key
// recorded in the TOFU file, see HostKeyPolicy), offering no credentials.
// It retries as a connection does (see Options). note says how an unknown
// key was trusted ("trusting host key SHA256:... of lb-1 on first use",
// "host key SHA256:... of ct-1 matches the create task log of CT 105"),
// and is "" for a host already known.
func (p *Pool) CheckHostKey(ctx context.Context, cfg Config) (note string, err error) {
	pr := &probe{}
	if _, err := p.dial(ctx, &cfg, pr); err != nil {
		return "", err
	}
	return pr.note, nil
}

// ForgetHostKeys removes from file what it holds for address (host:port,
// port 22 when omitted): the host's keys and expected fingerprints, and
// nothing else (a line that names other hosts too keeps them). It returns
// how many lines it removed or changed. The file is rewritten atomically.
func (p *Pool) ForgetHostKeys(file, address string) (int, error) {
	p.tofuMu.Lock()
	defer p.tofuMu.Unlock()
	lines, err := readLines(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("forget the host keys of %s: %w", address, err)
	}
	kept := dropHost(lines, knownhosts.Normalize(hostKeyAddress(address)))
	if slices.Equal(lines, kept) {
		return 0, nil
	}
	if err := writeLines(file, kept); err != nil {
		return 0, fmt.Errorf("forget the host keys of %s: %w", address, err)
	}
	// Lines removed, or changed (one that named other hosts too).
	left := map[string]int{}
	for _, l := range kept {
		left[l]++
	}
	n := 0
	for _, l := range lines {
		if left[l] > 0 {
			left[l]--
		} else {
			n++
		}
	}
	return n, nil
}

// ExpectHostKeys records in file that address will present a key with one
// of fingerprints (SHA256:...), learned from source through an
// authenticated channel, replacing what the file held for address.
func (p *Pool) ExpectHostKeys(file, address string, fingerprints []string, source string) error {
	if len(fingerprints) == 0 {
		return nil
	}
	for _, fp := range fingerprints {
		if !strings.HasPrefix(fp, "SHA256:") || strings.ContainsAny(fp, ", \t\n") {
			return fmt.Errorf("expect host keys of %s: %q is not a SHA256 fingerprint", address, fp)
		}
	}
	addr := knownhosts.Normalize(hostKeyAddress(address))
	line := expectPrefix + addr + " " + strings.Join(fingerprints, ",") + " from " + strings.Join(strings.Fields(source), " ")
	return p.rewrite(file, addr, line)
}

// AddHostKey records key as address's host key in file (learned through an
// authenticated channel), replacing what the file held for address.
func (p *Pool) AddHostKey(file, address string, key ssh.PublicKey) error {
	addr := hostKeyAddress(address)
	return p.rewrite(file, knownhosts.Normalize(addr), knownhosts.Line([]string{addr}, key))
}

// rewrite replaces file's entries for addr (normalized) with line.
func (p *Pool) rewrite(file, addr, line string) error {
	p.tofuMu.Lock()
	defer p.tofuMu.Unlock()
	lines, err := readLines(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("host keys of %s: %w", addr, err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("host keys of %s: %w", addr, err)
	}
	if err := writeLines(file, append(dropHost(lines, addr), line)); err != nil {
		return fmt.Errorf("host keys of %s: %w", addr, err)
	}
	return nil
}

// expected is an expectation line's content.
type expected struct {
	fingerprints []string
	source       string
}

// expectation finds the expectation for addr (normalized) in lines, with
// its index.
func expectation(lines []string, addr string) (expected, int, bool) {
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, expectPrefix)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 || f[0] != addr {
			continue
		}
		e := expected{fingerprints: strings.Split(f[1], ",")}
		if len(f) > 3 && f[2] == "from" {
			e.source = strings.Join(f[3:], " ")
		}
		return e, i, true
	}
	return expected{}, 0, false
}

// dropHost returns lines without addr's (normalized) entries: its
// expectation, and addr removed from every host pattern list (a line left
// with no host is dropped). Markers (@cert-authority, @revoked) and
// comments stay.
func dropHost(lines []string, addr string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, expectPrefix); ok {
			if f := strings.Fields(rest); len(f) > 0 && f[0] == addr {
				continue
			}
			out = append(out, l)
			continue
		}
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' || t[0] == '@' {
			out = append(out, l)
			continue
		}
		hosts, keyPart, ok := strings.Cut(t, " ")
		if !ok {
			out = append(out, l)
			continue
		}
		// Most lines name other hosts: they are kept as they are, their
		// host list not split (a file of a thousand hosts was split a
		// thousand times for every host added).
		if !namesHost(hosts, addr) {
			out = append(out, l)
			continue
		}
		var keep []string
		for _, h := range strings.Split(hosts, ",") {
			if !hostMatches(h, addr) {
				keep = append(keep, h)
			}
		}
		if len(keep) > 0 {
			out = append(out, strings.Join(keep, ",")+" "+keyPart)
		}
	}
	return out
}

// namesHost reports whether a comma-separated host list has a host that
// matches addr, without splitting the list.
func namesHost(hosts, addr string) bool {
	for rest, more := hosts, true; more; {
		var h string
		h, rest, more = strings.Cut(rest, ",")
		if hostMatches(h, addr) {
			return true
		}
	}
	return false
}

// hostMatches reports whether the known_hosts host entry h (plain or
// hashed, |1|salt|hash) names addr exactly.
func hostMatches(h, addr string) bool {
	if !strings.HasPrefix(h, "|1|") {
		return h == addr
	}
	parts := strings.Split(h[3:], "|")
	if len(parts) != 2 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[0])
	sum, err2 := base64.StdEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(addr))
	return hmac.Equal(mac.Sum(nil), sum)
}

// readLines reads file's lines.
func readLines(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	// The lines share one string (a file of a thousand hosts is read for
	// every host added), split as bufio.ScanLines splits.
	var lines []string
	for rest := string(b); rest != ""; {
		line, more, _ := strings.Cut(rest, "\n")
		if len(line) >= 1<<20 {
			return nil, bufio.ErrTooLong
		}
		lines = append(lines, strings.TrimSuffix(line, "\r"))
		rest = more
	}
	return lines, nil
}

// writeLines replaces file with lines atomically: a temporary file in the
// same directory, synced, then renamed over it (mode 0600).
func writeLines(file string, lines []string) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// KnowsHost reports whether file holds a key or expected fingerprints for
// address.
func (p *Pool) KnowsHost(file, address string) bool {
	p.tofuMu.Lock()
	defer p.tofuMu.Unlock()
	lines, err := readLines(file)
	if err != nil {
		return false
	}
	return !slices.Equal(lines, dropHost(lines, knownhosts.Normalize(hostKeyAddress(address))))
}
