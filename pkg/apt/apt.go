// Package apt writes the shell scripts that install Debian packages on a
// guest the way a fresh cloud image needs it, for every phase that
// installs packages (the load balancers' HAProxy and keepalived, the
// Kubernetes nodes' containerd and kubelet):
//
//  1. wait for cloud-init to finish, bounded: on a VM's first boot under
//     Proxmox VE's cloud-init (ciupgrade=1) it upgrades every package
//     after sshd already answers and holds apt's locks meanwhile; the
//     wait is skipped where cloud-init is not installed (containers);
//  2. `apt-get update`: Debian 12 cloud images ship with empty lists
//     (apt-get install fails with "Unable to locate package"), and a
//     container template's lists are as old as the template;
//  3. `apt-get install` with a dpkg lock timeout, so an apt run that
//     started meanwhile (apt-daily, unattended-upgrades) is waited for,
//     not failed on;
//  4. when apt refuses because dpkg was interrupted (an earlier install
//     killed while dpkg unpacked: a cancelled run's SIGKILL reaches the
//     whole session), `dpkg --configure -a`, as apt asks, and the install
//     again.
//
// The scripts run only when something must be installed: a converged
// host is never asked to update its lists.
package apt

import (
	"fmt"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/remote"
)

// Bounds of each part; Worst adds them up.
const (
	// CloudInitWait bounds `cloud-init status --wait`: a first-boot
	// upgrade of an image some months old takes a few minutes.
	CloudInitWait = 10 * time.Minute
	// LockTimeout is apt's -o DPkg::Lock::Timeout: how long apt-get
	// install waits for dpkg's lock held by another apt.
	LockTimeout = 5 * time.Minute
	// updateTries and updatePause retry apt-get update while another apt
	// holds the lists' lock (DPkg::Lock::Timeout does not cover it).
	updateTries = 30
	updatePause = 2 * time.Second
	// UpdateTime bounds the update with its retries.
	UpdateTime = updateTries*updatePause + 3*time.Minute
)

// Worst is the worst case of an install script whose packages take up to
// install to download and set up: the command timeout to give it. An
// interrupted dpkg is finished and the install tried again: twice install.
func Worst(install time.Duration) time.Duration {
	return CloudInitWait + UpdateTime + LockTimeout + 2*install
}

// WaitCloudInit is a script that waits (at most CloudInitWait) until
// cloud-init has finished, where it is installed. On a timeout it fails
// with exit status 124 and says what cloud-init reported last; when
// cloud-init reports an error it fails with its status and words.
// cloud-init 23.4+ exits 2 for a recoverable error: that counts as done.
func WaitCloudInit() string {
	secs := int(CloudInitWait.Seconds())
	return fmt.Sprintf(`if command -v cloud-init >/dev/null 2>&1; then
  rc=0
  ci=$(timeout %d cloud-init status --wait 2>&1) || rc=$?
  case $rc in
  0|2) ;;
  124) echo "cloud-init had not finished after %s (the first boot's package upgrade holds apt's locks); it last said: $(cloud-init status --long 2>&1)" >&2; exit 124 ;;
  *) echo "cloud-init status --wait exited $rc: $ci" >&2; exit "$rc" ;;
  esac
fi
`, secs, CloudInitWait)
}

// Update is a script that runs apt-get update, again while another apt
// holds the lists' lock (at most UpdateTime), and fails with apt's words
// on any other error.
func Update() string {
	return fmt.Sprintf(`i=0
until up=$(apt-get -q update 2>&1); do
  case $up in *"Could not get lock"*) ;; *) echo "$up" >&2; exit 100 ;; esac
  i=$((i+1))
  if [ "$i" -ge %d ]; then echo "$up" >&2; exit 100; fi
  sleep %d
done
echo "$up"
`, updateTries, int(updatePause.Seconds()))
}

// Install returns a script that installs packages (each a name, or
// name=version) with the apt-get options given (e.g.
// --no-install-recommends): cloud-init waited for, the lists updated, and
// dpkg's lock waited for up to LockTimeout.
func Install(options []string, packages ...string) string {
	return WaitCloudInit() + UpdateAndInstall(options, packages...)
}

// UpdateAndInstall is Install without the wait for cloud-init, for a
// step that waited already.
func UpdateAndInstall(options []string, packages ...string) string {
	quoted := make([]string, 0, len(options)+len(packages))
	for _, o := range options {
		quoted = append(quoted, remote.Quote(o))
	}
	for _, p := range packages {
		quoted = append(quoted, remote.Quote(p))
	}
	// apt's output is kept until it is known whether apt refused for an
	// interrupted dpkg (apt-pkg checks dpkg's journal once it holds the
	// lock); any other failure ends the script with apt's words and
	// status.
	return Update() + fmt.Sprintf(`apt_install() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=%d install -y -q %s; }
rc=0
out=$(apt_install 2>&1) || rc=$?
if [ "$rc" -eq 0 ]; then
  printf '%%s\n' "$out"
else
  case $out in
  *"dpkg was interrupted"*)
    echo "dpkg was interrupted (an earlier install was cut off): dpkg --configure -a, as apt asks"
    DEBIAN_FRONTEND=noninteractive dpkg --configure -a || exit $?
    apt_install || exit $? ;;
  *) printf '%%s\n' "$out" >&2; exit "$rc" ;;
  esac
fi
`, int(LockTimeout.Seconds()), strings.Join(quoted, " "))
}
