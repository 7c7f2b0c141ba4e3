package homelab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// StateDir is where homelab keeps what it remembers of an inventory's
// runs (the run lock, run journals): .homelab/<inventory name> beside the
// inventory file.
func StateDir(inventoryPath, inventoryName string) string {
	return filepath.Join(filepath.Dir(inventoryPath), ".homelab", inventoryName)
}

// RunLock keeps two runs against one inventory from interleaving. It is a
// file in the state directory that names its holder.
type RunLock struct {
	path string
}

// Holder is who holds a run lock.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// LockedError is a run lock someone else holds.
type LockedError struct {
	Path   string
	Holder Holder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another run holds %s: %s (pid %d on %s, since %s); wait for it, or remove the file if that run is gone",
		e.Path, e.Holder.Command, e.Holder.PID, e.Holder.Host, e.Holder.Since.Format(time.RFC3339))
}

// Lock takes the run lock in dir for command. A lock left by a process
// that no longer runs on this host is taken over; one held by a live
// process, or by another host, is a *LockedError.
func Lock(dir, command string) (*RunLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	path := filepath.Join(dir, "lock")
	host, _ := os.Hostname()
	me := Holder{PID: os.Getpid(), Host: host, Command: command, Since: time.Now().UTC()}
	data, _ := json.Marshal(me)
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.Write(append(data, '\n'))
			cerr := f.Close()
			if err := errors.Join(werr, cerr); err != nil {
				os.Remove(path)
				return nil, fmt.Errorf("run lock: %w", err)
			}
			return &RunLock{path: path}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("run lock: %w", err)
		}
		var held Holder
		raw, rerr := os.ReadFile(path)
		if rerr == nil {
			rerr = json.Unmarshal(raw, &held)
		}
		if rerr != nil {
			return nil, &UnreadableLockError{Path: path, Err: rerr}
		}
		if held.Host != host || alive(held.PID) {
			return nil, &LockedError{Path: path, Holder: held}
		}
		os.Remove(path) // its holder is gone: take it over
	}
	return nil, fmt.Errorf("run lock %s: taken while this run tried to take it: %w", path, fs.ErrExist)
}

// UnreadableLockError is a run lock file that exists but does not say who
// holds it (it cannot be read, or is not a holder's record).
type UnreadableLockError struct {
	Path string
	Err  error
}

func (e *UnreadableLockError) Error() string {
	return fmt.Sprintf("run lock %s exists but cannot be read (%v); remove it if no run is going on", e.Path, e.Err)
}

func (e *UnreadableLockError) Unwrap() error { return e.Err }

// Unlock releases the lock.
func (l *RunLock) Unlock() error {
	if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("run lock: %w", err)
	}
	return nil
}

// Journal opens a new run journal (JSON lines, one event per line) in the
// state directory's runs/ folder, named after the time and the command.
func Journal(dir, command string) (*os.File, error) {
	runs := filepath.Join(dir, "runs")
	if err := os.MkdirAll(runs, 0o700); err != nil {
		return nil, fmt.Errorf("run journal: %w", err)
	}
	stamp := time.Now().UTC().Format("20060102T150405.000Z")
	for n := 1; ; n++ {
		name := fmt.Sprintf("%s-%s.jsonl", stamp, command)
		if n > 1 {
			name = fmt.Sprintf("%s-%s-%d.jsonl", stamp, command, n)
		}
		f, err := os.OpenFile(filepath.Join(runs, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, os.ErrExist) || n >= 100 {
			return nil, fmt.Errorf("run journal: %w", err)
		}
	}
}
