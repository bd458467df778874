#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the .deb with CPack, installs it with dpkg, runs the installed binaries, purges it again.
# Needs root and dpkg; changes the system (label "deb": exclude with ctest -LE deb).
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (dpkg -i)"; exit 77; }
command -v dpkg >/dev/null && command -v cpack >/dev/null || { echo "needs dpkg and cpack"; exit 77; }
if grep -q 'ok installed' <<<"$(dpkg-query -W -f '${Status}' blsync 2>/dev/null || true)"; then
    echo "a blsync package is already installed here; not touching it"
    exit 77
fi
installed=
made_key=
# What this test put on the system goes again at exit, also when it fails.
undo() {
    [ -z "$made_key" ] || rm -f /etc/blsync/master.key /etc/blsync/master.pub
    [ -z "$installed" ] || dpkg --purge blsync >/dev/null 2>&1 || true
}
on_exit undo

(cd "$B" && cpack -G DEB -B "$T/pkg") >"$T/cpack.log" 2>&1 || { cat "$T/cpack.log"; fail "cpack"; }
deb=$(ls "$T"/pkg/blsync_*.deb)
dpkg-deb -f "$deb" Package Version Depends

installed=1
dpkg -i "$deb" || fail "dpkg -i"
grep -q 'install ok installed' <<<"$(dpkg-query -W -f '${Status}\n' blsync)" || fail "not installed"

for b in /usr/sbin/blsync-master /usr/sbin/blsync-mirror /usr/bin/blsyncctl; do
    [ -x "$b" ] || fail "$b missing"
    out=$("$b" --version) || fail "$b --version failed"
    grep -q "^$(basename "$b") [0-9]" <<<"$out" || fail "$b --version printed '$out'"
    # The blsync libraries are linked in statically; every shared library resolves.
    deps=$(ldd "$b")
    ! grep -q 'libblsync\|not found' <<<"$deps" || fail "$b: $(grep 'libblsync\|not found' <<<"$deps")"
done
# Once the daemons implement --check-config, the sample configs must pass it
# after the operator's first step: a signing key made by the installed blsyncctl.
if [ ! -e /etc/blsync/master.key ]; then
    /usr/bin/blsyncctl keygen --out /etc/blsync --name master >/dev/null || fail "blsyncctl keygen"
    made_key=1
fi
for d in master mirror; do
    if grep -q -- '--check-config' <<<"$("/usr/sbin/blsync-$d" --help 2>&1 || true)"; then
        "/usr/sbin/blsync-$d" --check-config -c "/etc/blsync/$d.conf" ||
            fail "blsync-$d --check-config on the installed sample"
    else
        echo "note: blsync-$d has no --check-config yet"
    fi
done
for f in /etc/blsync/master.conf /etc/blsync/mirror.conf \
         /usr/lib/systemd/system/blsync-master.service /usr/lib/systemd/system/blsync-mirror.service \
         /usr/share/doc/blsync/prometheus/rules.yml /usr/share/doc/blsync/grafana/blsync.json; do
    [ -f "$f" ] || fail "$f missing"
done
grep -q /etc/blsync/master.conf <<<"$(dpkg-query -W -f '${Conffiles}\n' blsync)" || fail "conffiles"
getent passwd blsync >/dev/null || fail "no blsync user"
[ "$(stat -c %G /etc/blsync)" = blsync ] || fail "/etc/blsync not group blsync"
for p in blsync-master blsync-mirror blsyncctl blsync.conf; do
    MANPATH=/usr/share/man man -w "$p" >/dev/null || fail "man $p not found"
done
# The installed units verify against the installed binaries and man pages.
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /usr/lib/systemd/system/blsync-master.service \
        /usr/lib/systemd/system/blsync-mirror.service || fail "systemd-analyze verify"
fi

if [ -n "$made_key" ]; then rm -f /etc/blsync/master.key /etc/blsync/master.pub; fi
made_key=
dpkg --purge blsync || fail "dpkg --purge"
installed=
for f in /usr/sbin/blsync-master /etc/blsync/master.conf; do
    [ ! -e "$f" ] || fail "$f left after purge"
done
echo "deb ok: $(basename "$deb")"
