#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the README's two commands, as root, on the barest Debian 12: a debootstrap "minbase" chroot
# that has nothing but the essential packages and apt, into which a clean clone of the repository
# (HEAD; uncommitted changes are not part of it) is copied. /proc, /sys, /dev, /dev/pts and a tmpfs
# /tmp are mounted, nothing else: no /run, no systemd, no network but what the host's resolver gives.
#   1. bash scripts/demo.sh   (installs the dependencies itself through scripts/install-deps.sh)
#   2. bash scripts/test.sh   (the whole suite, normal then ASan/UBSan build, then the fuzz smoke)
# Each step's log and duration, and ctest's summary, go to OUT_DIR (default build-minbase/).
#
# Not run by CI: it needs root, debootstrap (Debian package `debootstrap`) and the Debian mirror, and
# takes minutes (the suite itself ~25 min on 2 idle cores). docs/packaging.md has the last result.
#
#   scripts/check-minbase.sh [--keep] [--reuse]
#     --reuse   use an existing chroot at CHROOT_DIR (the dependencies already installed) instead of
#               making a new one; the clone of the repository is always fresh
#     --keep    leave the chroot in place afterwards (it is removed by default)
# Environment: CHROOT_DIR (default /var/tmp/smtpc-minbase), MIRROR (default: the first Debian URI of
# the host's apt sources, else deb.debian.org), SUITE (default bookworm), STEPS (default "demo test";
# "demo" alone is a quick check), OUT_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

keep=0
reuse=0
for arg in "$@"; do
    case $arg in
        --keep) keep=1 ;;
        --reuse) reuse=1 ;;
        *)
            echo "usage: $0 [--keep] [--reuse]" >&2
            exit 2
            ;;
    esac
done

if [[ $(id -u) -ne 0 ]]; then
    echo "check-minbase: needs root (debootstrap, chroot, mounts)" >&2
    exit 1
fi
command -v debootstrap >/dev/null || { echo "check-minbase: debootstrap not found (apt-get install debootstrap)" >&2; exit 1; }

root=${CHROOT_DIR:-/var/tmp/smtpc-minbase}
suite=${SUITE:-bookworm}
steps=${STEPS:-demo test}
out=$(realpath -m "${OUT_DIR:-build-minbase}")
mkdir -p "$out"

# The host's Debian mirror (deb822 "URIs:" or one-line "deb URI suite" form), so that the chroot
# installs from the same place as the host.
host_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\/\?\)[[:space:]]*$/\1/p' \
            -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\/\?\)[[:space:]].*/\2/p' "$f"
    done | head -n 1
}
mirror=${MIRROR:-$(host_mirror)}
mirror=${mirror:-http://deb.debian.org/debian}
security=${mirror%/debian*}/debian-security

mounted=()
cleanup() {
    local pid link i
    # Processes left inside the chroot (test servers of an interrupted run), found by their root.
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        link=$(readlink "/proc/$pid/root" 2>/dev/null) || continue
        if [[ $link == "$root" ]]; then
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -l "${mounted[i]}" 2>/dev/null || true
    done
    # Mounts made inside the chroot (`ip netns add` bind-mounts /run/netns), deepest first.
    { findmnt -rn -o TARGET | grep -E "^$root(/|\$)" || true; } | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    if [[ $keep -eq 0 && -d $root ]]; then
        rm -rf --one-file-system "$root"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM # through cleanup: no test server or mount is left behind

start=$(date +%s)
if [[ $reuse -eq 1 && -x $root/usr/bin/apt-get ]]; then
    echo "=== reusing the chroot $root"
else
    rm -rf --one-file-system "$root"
    echo "=== debootstrap --variant=minbase $suite $root $mirror"
    debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$out/debootstrap.log" 2>&1 ||
        { tail -n 20 "$out/debootstrap.log"; exit 1; }
    # The sources of a standard Debian 12 installation: the release, its updates and security.
    cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
fi
echo "debootstrap: $(($(date +%s) - start)) s" >"$out/times.txt"
cp /etc/resolv.conf "$root/etc/resolv.conf"
grep -q localhost "$root/etc/hosts" 2>/dev/null || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

mnt() { # mnt TARGET MOUNT-ARGS...
    mkdir -p "$root$1"
    mount "${@:2}" "$root$1"
    mounted+=("$root$1")
}
mnt /proc -t proc proc
mnt /sys -t sysfs sysfs
mnt /dev --bind /dev
mnt /dev/pts --bind /dev/pts
mnt /tmp -t tmpfs -o mode=1777 tmpfs

# A clean clone of the committed tree (file modes and all, as a newcomer gets it).
rm -rf "$root/root/smtpc"
git clone -q --no-hardlinks "$repo" "$root/root/smtpc"
echo "=== clone of $(git -C "$root/root/smtpc" rev-parse --short HEAD) in $root/root/smtpc"

in_chroot() {
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "cd /root/smtpc && $1"
}

status=0
for step in $steps; do
    t0=$(date +%s)
    echo "=== [$step] bash scripts/$step.sh (log: $out/$step.log)"
    rc=0
    in_chroot "bash scripts/$step.sh" >"$out/$step.log" 2>&1 </dev/null || rc=$?
    t=$(($(date +%s) - t0))
    echo "$step: exit $rc, $t s" | tee -a "$out/times.txt"
    if [[ $rc -ne 0 ]]; then
        tail -n 40 "$out/$step.log"
        status=$rc
        break
    fi
done
# ctest's summaries and the tests that did not pass, from the test log.
if [[ -f $out/test.log ]]; then
    grep -E 'tests passed|Not Run|Skipped|\*\*\*Failed|Timeout|^=== ' "$out/test.log" >"$out/summary.txt" || true
    cat "$out/summary.txt"
fi
echo "total: $(($(date +%s) - start)) s" | tee -a "$out/times.txt"
exit "$status"
