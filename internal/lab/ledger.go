//go:build linux

package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LedgerDir holds a ledger for each lab while it runs: what the lab made
// on the machine (network namespaces, links, cgroups, its directory),
// written before each is made. Close removes what it lists, then the
// ledger. A lab whose process was killed (a test binary stopped by a
// signal, a timeout) leaves its ledger behind, and the next lab to take
// the lock sweeps what it lists: while the lock is held no other lab runs,
// so every ledger found then is a dead lab's.
const LedgerDir = "/run/lock/homelab-lab.d"

// ledger is one lab's record of what it made on the machine.
type ledger struct {
	mu   sync.Mutex
	path string
	// Netns are network namespaces; the processes in them (a bare host's
	// servers, outside any cgroup of the lab) are killed before each is
	// deleted.
	Netns []string `json:"netns,omitempty"`
	// Links are network links in the machine's namespace.
	Links []string `json:"links,omitempty"`
	// Cgroups are cgroup directories; what runs in them is killed.
	Cgroups []string `json:"cgroups,omitempty"`
	// Dirs are directories removed with all they hold.
	Dirs []string `json:"dirs,omitempty"`
}

// newLedger starts the ledger of a lab run by this process.
func newLedger() (*ledger, error) {
	if err := os.MkdirAll(LedgerDir, 0o700); err != nil {
		return nil, fmt.Errorf("lab ledger: %w", err)
	}
	l := &ledger{path: filepath.Join(LedgerDir, strconv.Itoa(os.Getpid())+".json")}
	return l, l.write()
}

// record adds what the lab is about to make, and writes the ledger.
func (l *ledger) record(list *[]string, items ...string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	*list = append(*list, items...)
	return l.write()
}

func (l *ledger) netns(names ...string) error  { return l.record(&l.Netns, names...) }
func (l *ledger) links(names ...string) error  { return l.record(&l.Links, names...) }
func (l *ledger) cgroups(dirs ...string) error { return l.record(&l.Cgroups, dirs...) }
func (l *ledger) dirs(paths ...string) error   { return l.record(&l.Dirs, paths...) }
func (l *ledger) remove() error                { return ignoreMissing(os.Remove(l.path)) }
func ignoreMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// write replaces the ledger's file whole (a file renamed into place), so
// a sweep never reads half of it.
func (l *ledger) write() error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("lab ledger: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("lab ledger: %w", err)
	}
	return nil
}

// sweep removes what every ledger in dir lists, then the ledger; the
// caller holds the lab lock. It returns what it removed.
func sweep(dir string) (swept []string, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var l ledger
		if err := json.Unmarshal(b, &l); err != nil {
			errs = append(errs, fmt.Errorf("lab ledger %s: %w", f, err))
			continue
		}
		s, err := l.teardown()
		swept = append(swept, s...)
		if err != nil {
			errs = append(errs, fmt.Errorf("a dead lab's leftovers (ledger %s): %w", f, err))
			continue
		}
		errs = append(errs, ignoreMissing(os.Remove(f)))
	}
	return swept, errors.Join(errs...)
}

// teardown removes what the ledger lists that still exists: the
// processes first (in the cgroups, then in the namespaces), then the
// cgroups, namespaces, links and directories. It returns what it found.
func (l *ledger) teardown() (found []string, err error) {
	var live []string
	for _, d := range l.Cgroups {
		if _, err := os.Stat(d); err == nil {
			live = append(live, d)
			found = append(found, "cgroup "+d)
		}
	}
	var errs []error
	if err := removeCgroups(live, 30*time.Second); err != nil {
		errs = append(errs, err)
	}
	for _, ns := range l.Netns {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
			continue
		}
		found = append(found, "netns "+ns)
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %w: %s", ns, err, strings.TrimSpace(string(out))))
		}
	}
	for _, link := range l.Links {
		if _, err := os.Stat(filepath.Join("/sys/class/net", link)); err != nil {
			continue
		}
		found = append(found, "link "+link)
		if out, err := exec.Command("ip", "link", "del", link).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link del %s: %w: %s", link, err, strings.TrimSpace(string(out))))
		}
	}
	for _, d := range l.Dirs {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		found = append(found, "dir "+d)
		// The hosts' mounts go with their mount namespaces, a moment
		// after their last process.
		var err error
		for range 50 {
			if err = os.RemoveAll(d); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return found, errors.Join(errs...)
}
