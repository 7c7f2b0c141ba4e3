//go:build !unix && !windows

package homelab

// alive reports whether a process with this pid runs on this host; where
// homelab cannot ask, every holder is taken to run (the lock's error says
// to remove the file if that run is gone).
func alive(pid int) bool { return pid > 0 }
