#!/bin/bash
# SPDX-License-Identifier: MIT
# `cmake --install` into a DESTDIR puts binaries, library, units, man pages and samples in place.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DESTDIR="$tmp/root" cmake --install "$BL_BUILD" --prefix /usr >"$tmp/log" 2>&1 \
    || { cat "$tmp/log"; exit 1; }
r="$tmp/root"
fail=0
for f in usr/sbin/blsync-master usr/sbin/blsync-mirror usr/bin/blsyncctl \
         usr/lib/systemd/system/blsync-master.service usr/lib/systemd/system/blsync-mirror.service \
         usr/lib/sysusers.d/blsync.conf \
         usr/share/man/man1/blsyncctl.1 usr/share/man/man5/blsync.conf.5 \
         usr/share/man/man8/blsync-master.8 usr/share/man/man8/blsync-mirror.8 \
         etc/blsync/master.conf etc/blsync/mirror.conf \
         usr/share/doc/blsync/METRICS.md usr/share/doc/blsync/prometheus/rules.yml \
         usr/share/doc/blsync/grafana/blsync.json; do
    [ -e "$r/$f" ] || { echo "missing /$f"; fail=1; }
done
# The blsync libraries are static: nothing of ours is installed as a shared library.
[ -z "$(find "$r/usr" -name 'libblsync*')" ] || { echo "a libblsync library was installed"; fail=1; }
# Installed binaries carry no RPATH into the build tree.
for b in "$r"/usr/sbin/* "$r"/usr/bin/*; do
    if readelf -d "$b" | grep -E 'R(UN)?PATH' | grep -q "$BL_BUILD"; then
        echo "$b: RPATH points into the build tree"
        fail=1
    fi
done
exit $fail
