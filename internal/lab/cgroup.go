//go:build linux

package lab

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hierarchy is one of the machine's cgroup hierarchies: where it is
// mounted, its mount options (the controllers, "none,name=systemd"; empty
// for the cgroup2 one), and this process's cgroup in it.
type hierarchy struct {
	mount   string
	options string
	self    string // this process's cgroup directory in the hierarchy
	v2      bool
}

// hierarchies reads the machine's cgroup v1 mounts and its cgroup2 mount
// (mountinfo) and this process's place in each (/proc/self/cgroup). A
// host's systemd mounts cgroup2 itself (hybrid mode, as "unified"): the
// host gets a cgroup there too, so that what systemd creates stays under
// it rather than at the machine's root.
func hierarchies() ([]hierarchy, error) {
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	paths := map[string]string{} // sorted controller list ("" for cgroup2) → path
	for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 {
			paths[sortedList(parts[1])] = parts[2]
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []hierarchy
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts ... - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 || (tail[0] != "cgroup" && tail[0] != "cgroup2") {
			continue
		}
		v2 := tail[0] == "cgroup2"
		var ctrls []string
		for _, o := range strings.Split(tail[2], ",") {
			if o == "rw" || o == "ro" || o == "none" || strings.HasPrefix(o, "release_agent=") || o == "clone_children" || o == "noprefix" || o == "xattr" || o == "cpuset_v2_mode" {
				continue
			}
			if !v2 {
				ctrls = append(ctrls, o)
			}
		}
		key := sortedList(strings.Join(ctrls, ","))
		path, ok := paths[key]
		if !ok || seen[key] {
			continue
		}
		seen[key] = true
		rel, err := filepath.Rel(fields[3], path)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("cgroup %s: this process (%s) is outside the mount's root %s", key, path, fields[3])
		}
		opts := strings.Join(ctrls, ",")
		if strings.HasPrefix(opts, "name=") {
			opts = "none," + opts
		}
		out = append(out, hierarchy{mount: fields[4], options: opts, self: filepath.Join(fields[4], rel), v2: v2})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroup hierarchies mounted")
	}
	return out, nil
}

func sortedList(s string) string {
	l := strings.Split(s, ",")
	sort.Strings(l)
	return strings.Join(l, ",")
}

// makeCgroups creates the cgroup name under this process's
// cgroup in every hierarchy, copying cpuset.cpus and cpuset.mems from the
// parent (a cpuset without them takes no process). It returns the
// directories, to move the host in and to remove with removeCgroups.
func makeCgroups(hs []hierarchy, name string) ([]string, error) {
	var dirs []string
	for _, h := range hs {
		dir := filepath.Join(h.self, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return dirs, fmt.Errorf("cgroup %s: %w", dir, err)
		}
		dirs = append(dirs, dir)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			v, err := os.ReadFile(filepath.Join(h.self, f))
			if err != nil {
				continue // not the cpuset hierarchy
			}
			if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
				return dirs, fmt.Errorf("cgroup %s: %s: %w", dir, f, err)
			}
		}
	}
	return dirs, nil
}

// removeCgroups kills what is left in the cgroups (the host's processes
// are ours) and removes them, deepest first, retrying while the killed
// processes exit.
func removeCgroups(dirs []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var left []string
		for _, dir := range dirs {
			if err := removeTree(dir); err != nil {
				left = append(left, dir)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups left after %s: %v", timeout, left)
		}
		dirs = left
		time.Sleep(100 * time.Millisecond)
	}
}

func removeTree(dir string) error {
	var tree []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			tree = append(tree, p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var last error
	for i := len(tree) - 1; i >= 0; i-- {
		if procs, err := os.ReadFile(filepath.Join(tree[i], "cgroup.procs")); err == nil {
			for _, f := range strings.Fields(string(procs)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if err := syscall.Rmdir(tree[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			last = err
		}
	}
	return last
}

// procCgroups is /proc/cgroups with every controller that no machine
// hierarchy mounts marked disabled. Bound over /proc/cgroups in a host, it
// keeps the host's systemd from mounting those controllers (hugetlb,
// net_cls, perf_event, ...) as new hierarchies whose cgroups the kubelet
// would then create at the machine's root.
func procCgroups(hs []hierarchy) ([]byte, error) {
	in, err := os.ReadFile("/proc/cgroups")
	if err != nil {
		return nil, err
	}
	mounted := map[string]bool{}
	for _, h := range hs {
		for _, c := range strings.Split(h.options, ",") {
			mounted[c] = true
		}
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(in), "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && !strings.HasPrefix(line, "#") && !mounted[f[0]] {
			f[3] = "0"
			line = strings.Join(f, "\t")
		}
		b.WriteString(line + "\n")
	}
	return []byte(b.String()), nil
}
