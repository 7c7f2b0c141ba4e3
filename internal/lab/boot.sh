#!/bin/bash
# boot.sh NAME DIR PUBKEY MASK...: turns the process that runs it into a
# lab host's PID 1. It runs inside `ip netns exec NAME unshare --mount
# --uts --pid --fork`: a private mount, UTS and PID namespace in the host's
# own network namespace (research/lab.md). / is overlaid so the host's
# writes (/etc, /var, package installs) stay its own and vanish with it.
set -euo pipefail
name=$1 dir=$2 pubkey=$3
shift 3
mount -t tmpfs tmpfs "$dir"
mkdir -p "$dir/u" "$dir/w" "$dir/m"
m=$dir/m
mount -t overlay overlay -o lowerdir=/,upperdir="$dir/u",workdir="$dir/w" "$m"
mount -t proc proc "$m/proc"
mount -t sysfs sysfs "$m/sys"
mount --rbind /dev "$m/dev"
mount -t tmpfs tmpfs "$m/run"
mount -t tmpfs tmpfs "$m/tmp"
mount -t tmpfs tmpfs "$m/sys/fs/cgroup"
mkdir -p "$m/sys/fs/cgroup/systemd"
mount -t cgroup -o none,name=systemd cgroup "$m/sys/fs/cgroup/systemd"
hostname "$name"
echo "$name" > "$m/etc/hostname"
cat /proc/sys/kernel/random/uuid | tr -d - > "$m/etc/machine-id"
rm -f "$m/usr/sbin/policy-rc.d"
rm -f "$m"/etc/ssh/ssh_host_*
chroot "$m" ssh-keygen -A >/dev/null
mkdir -p "$m/root/.ssh" && chmod 700 "$m/root/.ssh"
echo "$pubkey" > "$m/root/.ssh/authorized_keys"
# Services installed on the machine start in every host unless masked.
for unit in "$@"; do
  ln -sf /dev/null "$m/etc/systemd/system/$unit"
done
exec chroot "$m" /lib/systemd/systemd --system
