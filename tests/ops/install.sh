#!/bin/bash
# SPDX-License-Identifier: MIT
# `cmake --install` into a DESTDIR puts binaries, library, units, man pages and samples in place.
. "$(dirname "$0")/../lib.sh"
DESTDIR="$T/root" cmake --install "$B" --prefix /usr >"$T/install.log" 2>&1 || fail "cmake --install"
r="$T/root"
for f in usr/sbin/blsync-master usr/sbin/blsync-mirror usr/bin/blsyncctl \
         usr/lib/systemd/system/blsync-master.service usr/lib/systemd/system/blsync-mirror.service \
         usr/lib/systemd/system/blsync-mirror.socket \
         usr/lib/sysusers.d/blsync.conf \
         usr/share/man/man1/blsyncctl.1.gz usr/share/man/man5/blsync.conf.5.gz \
         usr/share/man/man8/blsync-master.8.gz usr/share/man/man8/blsync-mirror.8.gz \
         usr/share/doc/blsync/copyright usr/share/doc/blsync/changelog.gz \
         usr/share/bash-completion/completions/blsyncctl \
         etc/blsync/master.conf etc/blsync/mirror.conf \
         usr/share/doc/blsync/METRICS.md usr/share/doc/blsync/prometheus/rules.yml \
         usr/share/doc/blsync/grafana/blsync.json; do
    [ -e "$r/$f" ] || problem "missing /$f"
done
# The blsync libraries are static: nothing of ours is installed as a shared library.
[ -z "$(find "$r/usr" -name 'libblsync*')" ] || problem "a libblsync library was installed"
# Installed binaries carry no RPATH into the build tree.
for b in "$r"/usr/sbin/* "$r"/usr/bin/*; do
    if grep -E 'R(UN)?PATH' <<<"$(readelf -d "$b")" | grep -q "$B"; then
        problem "$b: RPATH points into the build tree"
    fi
done
# The completion loads in bash and completes the subcommands.
out=$(bash -c ". '$r/usr/share/bash-completion/completions/blsyncctl'
    COMP_WORDS=(blsyncctl lo); COMP_CWORD=1; _blsyncctl; echo \"\${COMPREPLY[*]}\"
    COMP_WORDS=(blsyncctl keygen --); COMP_CWORD=2; _blsyncctl; echo \"\${COMPREPLY[*]}\"")
[ "$(sed -n 1p <<<"$out")" = "lookup" ] || problem "completion of 'blsyncctl lo': $out"
grep -q -- '--out' <<<"$(sed -n 2p <<<"$out")" || problem "completion of 'keygen --': $out"
finish
