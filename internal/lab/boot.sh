#!/bin/bash
# boot.sh enter NS NAME DIR PUBKEY MASK...: turns the process that runs it
# into a lab host's PID 1 (research/lab.md). "enter" moves itself into the
# host's cgroups ($LAB_CGROUPS, one directory per v1 hierarchy; before `ip
# netns exec`, which mounts a /sys without them) and re-runs itself in the
# host's network namespace inside `unshare --mount --uts --pid --cgroup
# --fork`: private mount, UTS, PID and cgroup namespaces whose cgroup root
# is the host's own cgroup. / is overlaid so the host's writes (/etc, /var,
# package installs) stay its own and vanish with it.
#
# Environment (set by lab.go):
#   LAB_CGROUPS   the host's cgroup directories on the machine
#   LAB_CGMOUNTS  DIR:OPTIONS per hierarchy to mount under /sys/fs/cgroup
#   LAB_STATE     a directory on disk for /var/lib/containerd, /var/lib/etcd
#   LAB_HOSTS     the lab's /etc/hosts
#   LAB_DNS       the resolver address written to /etc/resolv.conf
#   LAB_SYSCTLS   KEY=VALUE of global sysctls to shadow (see lab.go)
#   LAB_PROC_CGROUPS  /proc/cgroups as the host sees it (see lab.go)
set -euo pipefail
if [[ "${1:-}" == enter ]]; then
  ns=$2
  shift 2
  for d in ${LAB_CGROUPS:-}; do
    echo $$ > "$d/cgroup.procs"
  done
  exec ip netns exec "$ns" unshare --mount --uts --pid --cgroup --fork "$0" "$@"
fi
name=$1 dir=$2 pubkey=$3
shift 3
mount -t tmpfs tmpfs "$dir"
mkdir -p "$dir/u" "$dir/w" "$dir/m" "$dir/sysctl"
m=$dir/m
mount -t overlay overlay -o lowerdir=/,upperdir="$dir/u",workdir="$dir/w" "$m"
mount -t proc proc "$m/proc"
# Global (not per namespace) sysctls that the kubelet sets: a file holding
# the value it wants is bound over each, so it finds it set and the
# machine's own value is never written.
for kv in ${LAB_SYSCTLS:-}; do
  key=${kv%%=*} value=${kv#*=}
  target=$m/proc/sys/${key//.//}
  if [[ -e "$target" ]]; then
    echo "$value" > "$dir/sysctl/$key"
    mount --bind "$dir/sysctl/$key" "$target"
  fi
done
# Controllers the machine does not mount read as disabled (lab.go).
if [[ -n "${LAB_PROC_CGROUPS:-}" ]]; then
  cp "$LAB_PROC_CGROUPS" "$dir/cgroups"
  mount --bind "$dir/cgroups" "$m/proc/cgroups"
fi
mount -t sysfs sysfs "$m/sys"
mount --rbind /dev "$m/dev"
mount -t tmpfs tmpfs "$m/run"
mount -t tmpfs tmpfs "$m/tmp"
# The cgroup hierarchies as seen from the host's cgroup namespace: the
# host's own cgroup is their root, so what systemd and the kubelet create
# stays under it.
mount -t tmpfs -o mode=755 tmpfs "$m/sys/fs/cgroup"
for cm in ${LAB_CGMOUNTS:-systemd:none,name=systemd}; do
  mkdir -p "$m/sys/fs/cgroup/${cm%%:*}"
  mount -t cgroup -o "${cm#*:}" cgroup "$m/sys/fs/cgroup/${cm%%:*}"
done
# containerd's overlayfs snapshotter cannot use an overlay upper directory,
# and etcd wants a real disk: both on the machine's disk, per host.
if [[ -n "${LAB_STATE:-}" ]]; then
  for d in containerd etcd; do
    mkdir -p "$LAB_STATE/$d" "$m/var/lib/$d"
    mount --bind "$LAB_STATE/$d" "$m/var/lib/$d"
  done
fi
hostname "$name"
echo "$name" > "$m/etc/hostname"
if [[ -n "${LAB_HOSTS:-}" ]]; then
  rm -f "$m/etc/hosts" && cp "$LAB_HOSTS" "$m/etc/hosts"
fi
if [[ -n "${LAB_DNS:-}" ]]; then
  rm -f "$m/etc/resolv.conf" && echo "nameserver $LAB_DNS" > "$m/etc/resolv.conf"
fi
cat /proc/sys/kernel/random/uuid | tr -d - > "$m/etc/machine-id"
rm -f "$m/usr/sbin/policy-rc.d"
rm -f "$m"/etc/ssh/ssh_host_*
chroot "$m" ssh-keygen -A >/dev/null
mkdir -p "$m/root/.ssh" && chmod 700 "$m/root/.ssh"
echo "$pubkey" > "$m/root/.ssh/authorized_keys"
# Services installed on the machine start in every host unless masked;
# console-getty fails in a host and would mark systemd degraded.
for unit in console-getty.service "$@"; do
  ln -sf /dev/null "$m/etc/systemd/system/$unit"
done
# pivot_root, not chroot: the overlay becomes the root of the host's mount
# namespace, as a machine's root is. A process that enters a mount
# namespace (setns, as runc exec does to run a command in a container)
# starts at that namespace's root: under a chroot that root stayed the
# machine's own /, so `kubectl exec` ran commands in the machine's files
# instead of the container's.
mkdir -p "$m/.lab-oldroot"
cd "$m"
pivot_root . .lab-oldroot
exec chroot . /bin/sh -c 'umount -l /.lab-oldroot && rmdir /.lab-oldroot && exec /lib/systemd/systemd --system'
