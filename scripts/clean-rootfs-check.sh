#!/usr/bin/env bash
# A fresh Debian, as a new user's machine is: debootstraps a clean root file system (python3 as its only
# Python, git, make, CA certificates; nothing else of ours), clones this checkout's HEAD into it, and runs
# there, as root in a chroot, what `make install` runs (scripts/install.sh: the project venv, python3-venv
# added by it; scripts/install-sandbox.sh: the sandbox's Debian packages, whose docker CLI the
# fast tier uses) and the fast tier. Prints the time of each step. (`make test`'s sandbox tier needs a whole
# machine: dockerd, network namespaces; a chroot has neither.) Run as root with debootstrap installed (apt-get install debootstrap);
# it reaches Debian's mirror (the first of this machine's apt sources, or $MIRROR) and the package index.
# Not run by CI or any make target. Usage: scripts/clean-rootfs-check.sh [SUITE]   (default bookworm)
# The root file system is kept in $ROOTFS (default /var/tmp/rt-clean-SUITE) and made again when absent;
# KEEP=0 removes it at the end. Where this machine's network re-signs TLS with its own CA (PIP_CERT set
# here), pip in the chroot is given that bundle too (PIP_CERT): the root file system stays Debian's own.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-bookworm}
rootfs=${ROOTFS:-/var/tmp/rt-clean-$suite}
mirror=${MIRROR:-$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
[ "$(id -u)" = 0 ] || { echo "error: run as root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "error: no debootstrap; as root: apt-get install debootstrap" >&2; exit 1; }
[ -n "$mirror" ] || { echo "error: no Debian mirror found in /etc/apt/sources.list.d/debian.sources; set MIRROR" >&2; exit 1; }

step() { printf '%-34s %5d s\n' "$1" "$(( $(date +%s) - $2 ))"; }
began=$(date +%s)
if [ ! -x "$rootfs/usr/bin/python3" ]; then
  t=$(date +%s)
  debootstrap --include=python3,git,make,ca-certificates "$suite" "$rootfs" "$mirror" >"$rootfs.debootstrap.log" 2>&1 \
    || { tail -5 "$rootfs.debootstrap.log" >&2; exit 1; }
  step "debootstrap $suite" "$t"
fi

mounts=()
cleanup() {
  for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
  [ "${KEEP:-1}" = 0 ] && rm -rf "$rootfs" "$rootfs.debootstrap.log"
  return 0
}
trap cleanup EXIT
for fs in proc sys dev dev/pts; do
  mount --bind "/$fs" "$rootfs/$fs" && mounts+=("$rootfs/$fs")
done
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# Debian's way to keep package scripts from starting services in a chroot (invoke-rc.d's policy-rc.d, 101)
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d" && chmod +x "$rootfs/usr/sbin/policy-rc.d"
ca=()
if [ -n "${PIP_CERT:-}" ]; then
  cp "$PIP_CERT" "$rootfs/etc/pip-ca-of-the-host.pem"
  ca=(PIP_CERT=/etc/pip-ca-of-the-host.pem)
fi
rm -rf "$rootfs/root/remote-training"
git clone -q "$PWD" "$rootfs/root/remote-training"  # HEAD as committed: what a fresh clone gets

inside() { chroot "$rootfs" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
             LANG=C.UTF-8 "${ca[@]}" /bin/bash -c "cd /root/remote-training && $1"; }
echo "python: $(inside 'command -v python3; python3 --version; ls /usr/bin/python3* | tr "\n" " "')"
t=$(date +%s)
inside 'bash scripts/install.sh'
step "scripts/install.sh" "$t"
t=$(date +%s)
inside 'bash scripts/install-sandbox.sh'
step "scripts/install-sandbox.sh" "$t"
t=$(date +%s)
inside '.venv/bin/python -m pytest -q -p no:cacheprovider -m "not sandbox" tests' | tail -3
step "fast tier" "$t"
step "total" "$began"
