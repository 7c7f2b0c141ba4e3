package host

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
)

// aptSource is one `deb` line of the sources lists.
type aptSource struct {
	uri, suite string
	components []string
	signedBy   string
}

// mirror reports whether the source is Debian's own mirror, which the
// simulated hosts always reach.
func (s aptSource) mirror() bool {
	return strings.Contains(s.uri, "deb.debian.org") || strings.Contains(s.uri, "security.debian.org")
}

// base is the URL of the source's release files, and listBase the name
// apt gives its files in /var/lib/apt/lists.
func (s aptSource) base() string {
	if s.suite == "/" || strings.HasSuffix(s.suite, "/") {
		return strings.TrimSuffix(s.uri, "/") + "/" + strings.TrimSuffix(s.suite, "/")
	}
	return strings.TrimSuffix(s.uri, "/") + "/dists/" + s.suite
}

func (s aptSource) listBase() string {
	b := s.base()
	if i := strings.Index(b, "://"); i >= 0 {
		b = b[i+3:]
	}
	return "/var/lib/apt/lists/" + strings.ReplaceAll(strings.TrimSuffix(b, "/"), "/", "_")
}

// indexes returns the Packages indexes: URL and list file.
func (s aptSource) indexes() [][2]string {
	if len(s.components) == 0 {
		return [][2]string{{strings.TrimSuffix(s.base(), "/") + "/Packages", s.listBase() + "_Packages"}}
	}
	var out [][2]string
	for _, c := range s.components {
		out = append(out, [2]string{s.base() + "/" + c + "/binary-amd64/Packages", s.listBase() + "_" + c + "_binary-amd64_Packages"})
	}
	return out
}

// display is how apt names the source in its progress lines.
func (s aptSource) display() string {
	if len(s.components) == 0 {
		return strings.TrimSuffix(s.uri, "/") + " " + s.suite
	}
	return s.uri + " " + s.suite
}

// sources reads the one-line sources lists.
func (h *Host) sources() []aptSource {
	files := []string{"/etc/apt/sources.list"}
	entries, _ := os.ReadDir(h.local("/", "/etc/apt/sources.list.d"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".list") {
			files = append(files, "/etc/apt/sources.list.d/"+e.Name())
		}
	}
	var out []aptSource
	for _, f := range files {
		b, _ := h.readFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			var opts string
			if i := strings.Index(line, "["); i >= 0 {
				if j := strings.Index(line[i:], "]"); j > 0 {
					opts, line = line[i+1:i+j], line[:i]+line[i+j+1:]
				}
			}
			fields := strings.Fields(line)
			if len(fields) < 3 || fields[0] != "deb" {
				continue
			}
			s := aptSource{uri: fields[1], suite: fields[2], components: fields[3:]}
			for _, o := range strings.Fields(opts) {
				if v, ok := strings.CutPrefix(o, "signed-by="); ok {
					s.signedBy = v
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// fetch gets a URL from the lab's Internet (LabOptions.Internet).
func (l *Lab) fetch(ctx context.Context, rawURL string) (status int, body []byte, reachable bool) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, nil, false
	}
	handler, ok := l.opts.Internet[u.Hostname()]
	if !ok {
		return 0, nil, false
	}
	req := httptest.NewRequest("GET", rawURL, nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes(), true
}

// aptUpdate is `apt-get update`: Debian's mirror always answers; a
// third-party source's InRelease and Packages come from the lab's
// Internet, and need the key its signed-by names.
func aptUpdate(ctx context.Context, c *Call) int {
	h := c.Host
	if err := h.pause(ctx, h.lab.opts.Latency.Update); err != nil {
		return 130
	}
	if lists, _, pid := h.aptLocked(); lists {
		// cloud-init's apt-get update (DPkg::Lock::Timeout does not
		// apply to the lists' lock).
		fmt.Fprintf(c.Stderr, "E: Could not get lock /var/lib/apt/lists/lock. It is held by process %d (apt-get)\nN: Be aware that removing the lock file is not a solution and may break your system.\nE: Unable to lock directory /var/lib/apt/lists/\n", pid)
		return 100
	}
	h.writeMirrorLists()
	fmt.Fprintln(c.Stdout, "Hit:1 http://deb.debian.org/debian bookworm InRelease\nHit:2 http://deb.debian.org/debian bookworm-updates InRelease\nHit:3 http://deb.debian.org/debian-security bookworm-security InRelease")
	n, fetched := 3, 0
	var warnings, errs []string
	for _, s := range h.sources() {
		if s.mirror() {
			continue
		}
		n++
		release := strings.TrimSuffix(s.base(), "/") + "/InRelease"
		u, _ := url.Parse(s.uri)
		status, body, reachable := h.lab.fetch(ctx, release)
		switch {
		case !reachable:
			fmt.Fprintf(c.Stdout, "Err:%d %s InRelease\n  Could not resolve '%s'\n", n, s.display(), u.Hostname())
			warnings = append(warnings, fmt.Sprintf("W: Failed to fetch %s  Could not resolve '%s'", release, u.Hostname()),
				"W: Some index files failed to download. They have been ignored, or old ones used instead.")
			continue
		case status != 200:
			fmt.Fprintf(c.Stdout, "Ign:%d %s InRelease\nErr:%d %s Release\n  %d  Not Found [IP: 34.107.204.206 443]\n", n, s.display(), n+1, s.display(), status)
			errs = append(errs, fmt.Sprintf("E: The repository '%s Release' does not have a Release file.", s.display()),
				"N: Updating from such a repository can't be done securely, and is therefore disabled by default.",
				"N: See apt-secure(8) manpage for repository creation and user configuration details.")
			n++
			continue
		}
		if key, err := h.readFile(s.signedBy); s.signedBy == "" || err != nil || len(key) == 0 || bytes.HasPrefix(key, []byte("-----BEGIN")) {
			// A keyring that is missing, empty or still armored verifies
			// nothing (the key ID is pkgs.k8s.io's; other repositories
			// are not simulated).
			fmt.Fprintf(c.Stdout, "Get:%d %s InRelease [1,186 B]\nErr:%d %s InRelease\n  The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 234654DA9A296436\n", n, s.display(), n, s.display())
			warnings = append(warnings, fmt.Sprintf("W: GPG error: %s InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 234654DA9A296436", s.display()))
			errs = append(errs, fmt.Sprintf("E: The repository '%s InRelease' is not signed.", s.display()),
				"N: Updating from such a repository can't be done securely, and is therefore disabled by default.",
				"N: See apt-secure(8) manpage for repository creation and user configuration details.")
			continue
		}
		fmt.Fprintf(c.Stdout, "Get:%d %s InRelease [%s B]\n", n, s.display(), thousands(len(body)))
		fetched += len(body)
		os.MkdirAll(h.local("/", "/var/lib/apt/lists"), 0o755)
		h.writeFile(s.listBase()+"_InRelease", body, 0o644)
		for _, ix := range s.indexes() {
			st, pk, _ := h.lab.fetch(ctx, ix[0])
			if st != 200 {
				continue
			}
			n++
			fmt.Fprintf(c.Stdout, "Get:%d %s amd64 Packages [%s B]\n", n, s.display(), thousands(len(pk)))
			fetched += len(pk)
			h.writeFile(ix[1], pk, 0o644)
		}
	}
	if fetched > 0 {
		fmt.Fprintf(c.Stdout, "Fetched %s B in 1s (%s B/s)\n", thousands(fetched), thousands(fetched))
	}
	fmt.Fprintln(c.Stdout, "Reading package lists...")
	for _, w := range append(warnings, errs...) {
		fmt.Fprintln(c.Stderr, w)
	}
	if len(errs) > 0 {
		return 100
	}
	return 0
}

// thousands writes n with comma separators, as apt does.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// versions returns the versions of pkg apt can install now, oldest first.
func (h *Host) versions(pkg Package) []string {
	if !pkg.External {
		if h.mirrorListed() {
			return []string{pkg.Version}
		}
		// No lists: apt knows only what dpkg has installed.
		if db, err := h.packageDB(); err == nil {
			if p, ok := db.find(pkg.Name); ok {
				return []string{p.version}
			}
		}
		return nil
	}
	var out []string
	for _, s := range h.sources() {
		if s.mirror() {
			continue
		}
		for _, ix := range s.indexes() {
			b, err := h.readFile(ix[1])
			if err != nil {
				continue
			}
			for _, stanza := range strings.Split(string(b), "\n\n") {
				var name, version string
				for _, line := range strings.Split(stanza, "\n") {
					k, v, _ := strings.Cut(line, ": ")
					switch k {
					case "Package":
						name = v
					case "Version":
						version = v
					}
				}
				if name == pkg.Name && version != "" && !slices.Contains(out, version) {
					out = append(out, version)
				}
			}
		}
	}
	return out
}

// removeStanza removes a package's stanza from dpkg's status.
func removeStanza(status []byte, name string) []byte {
	var keep []string
	for _, st := range strings.Split(string(status), "\n\n") {
		if strings.TrimSpace(st) == "" || strings.HasPrefix(st, "Package: "+name+"\n") {
			continue
		}
		keep = append(keep, strings.Trim(st, "\n"))
	}
	if len(keep) == 0 {
		return nil
	}
	return []byte(strings.Join(keep, "\n\n") + "\n\n")
}

// aptMark is `apt-mark hold|unhold PACKAGE...` and `apt-mark showhold`.
func aptMark(_ context.Context, c *Call) int {
	var words []string
	for _, a := range c.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			words = append(words, a)
		}
	}
	if len(words) == 0 {
		fmt.Fprintln(c.Stderr, "E: No packages found")
		return 100
	}
	h := c.Host
	db, err := h.packageDB()
	if err != nil {
		fmt.Fprintf(c.Stderr, "E: %s\n", describe(err))
		return 100
	}
	switch words[0] {
	case "showhold":
		var held []string
		for _, p := range db {
			if p.held {
				held = append(held, p.name)
			}
		}
		slices.Sort(held)
		for _, p := range held {
			fmt.Fprintln(c.Stdout, p)
		}
		return 0
	case "hold", "unhold":
	default:
		fmt.Fprintf(c.Stderr, "E: Invalid operation %s\n", words[0])
		return 100
	}
	hold := words[0] == "hold"
	if !c.Root() {
		fmt.Fprintln(c.Stderr, "E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), are you root?")
		return 100
	}
	for _, name := range words[1:] {
		if _, ok := db.find(name); !ok {
			fmt.Fprintf(c.Stderr, "E: Unable to locate package %s\n", name)
			return 100
		}
	}
	h.dbMu.Lock()
	defer h.dbMu.Unlock()
	status, _ := h.readFile("/var/lib/dpkg/status")
	text := string(status)
	for _, name := range words[1:] {
		p, _ := db.find(name)
		switch {
		case hold && p.held:
			fmt.Fprintf(c.Stdout, "%s was already set on hold.\n", name)
		case hold:
			fmt.Fprintf(c.Stdout, "%s set on hold.\n", name)
		case p.held:
			fmt.Fprintf(c.Stdout, "Canceled hold on %s.\n", name)
		default:
			fmt.Fprintf(c.Stdout, "%s was already not on hold.\n", name)
		}
		from, to := "Package: "+name+"\nStatus: install ok installed", "Package: "+name+"\nStatus: hold ok installed"
		if !hold {
			from, to = to, from
		}
		text = strings.Replace(text, from, to, 1)
	}
	if err := h.writeFile("/var/lib/dpkg/status", []byte(text), 0o644); err != nil {
		fmt.Fprintf(c.Stderr, "E: %s\n", describe(err))
		return 100
	}
	return 0
}
