// Package host simulates Debian hosts reached over SSH, for tests and for
// the simulated lab (`homelab up --simulate`): the load balancers and
// Kubernetes nodes homelab logs in to.
//
// A Host is one in-process SSH server (pkg/sim/sshd: real SSH, SFTP rooted
// in the host's own directory) whose `exec` requests run in a real POSIX
// shell interpreter (mvdan.cc/sh): quoting, `;`, `&&`, `||`, pipes,
// redirections and `$(...)` behave as in dash (`sh`) and bash. Every file
// the shell touches lives under the host's root directory: the host path P
// is Root()+P. The programs the shell runs are simulated by Go functions
// that answer as the Debian 12 programs do, with their exit codes and
// messages, failures included: coreutils (cat, mkdir, install, stat,
// sha256sum...), sudo, dpkg-query and apt-get over a package database in
// /var/lib/dpkg/status, systemctl over the units of installed packages,
// sysctl (with --system), ip, curl (https verified against --cacert),
// socat, modprobe, swapoff, getent, gpg --dearmor, apt-mark, and `haproxy -c` and `keepalived --config-test`
// judging configs as the real validators do. A program runs only where its
// binary is installed (a marker file in /usr/bin or /usr/sbin), so
// `haproxy` is "not found" until apt-get installs it.
//
// A Lab holds the hosts of one network. It models what happens between
// them: keepalived's VRRP elections (one holder per VIP, the highest
// priority whose track scripts pass, with nopreempt), HTTP between hosts
// and through HAProxy frontends (curl of a monitor URI or a stats page),
// and power: a host whose Spec.Power says it is off refuses SSH, holds no
// VIP and starts its enabled units again when it comes back.
//
// The simulation is deterministic and instantaneous: a VIP moves as soon as
// its holder's check fails, not after keepalived's timers.
package host
