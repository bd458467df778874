#!/bin/bash
# SPDX-License-Identifier: MIT
# The .deb CPack builds from this build passes lintian with no error and no warning.
. "$(dirname "$0")/../lib.sh"
command -v lintian >/dev/null && command -v cpack >/dev/null || { echo "needs lintian and cpack"; exit 77; }
(cd "$B" && cpack -G DEB -B "$T/pkg") >"$T/cpack.log" 2>&1 || { cat "$T/cpack.log"; fail "cpack"; }
deb=$(ls "$T"/pkg/blsync_*.deb)
# Informational tags are listed for the reader; errors and warnings fail the test.
lintian --info --display-info "$deb" >"$T/lintian.out" 2>&1 || true
grep -v 'running with root privileges' "$T/lintian.out" || true
bad=$(grep -E '^[EW]: ' "$T/lintian.out" || true)
[ -z "$bad" ] || fail "lintian: $(wc -l <<<"$bad") errors or warnings"
# What Debian policy asks of the files themselves, checked directly as well.
dpkg-deb -c "$deb" >"$T/files"
for f in usr/share/doc/blsync/copyright usr/share/doc/blsync/changelog.gz \
         usr/share/man/man1/blsyncctl.1.gz usr/share/man/man8/blsync-master.8.gz; do
    grep -q " \./$f\$" "$T/files" || problem "$f not in the package"
done
mkdir "$T/x" && dpkg-deb -x "$deb" "$T/x"
for b in "$T"/x/usr/sbin/* "$T"/x/usr/bin/blsyncctl; do
    ! grep -q '\.debug_info\|\.symtab' <<<"$(readelf -S "$b")" || problem "$b is not stripped"
done
m=$(dpkg-deb -f "$deb" Maintainer)
! grep -q '@localhost\|@.*\.invalid' <<<"$m" || problem "maintainer address $m"
# Maintainer: and the changelog's trailer are the cache variable BLSYNC_MAINTAINER.
want=$(sed -n 's/^BLSYNC_MAINTAINER:STRING=//p' "$B/CMakeCache.txt")
[ -n "$want" ] && [ "$m" = "$want" ] || problem "Maintainer: $m, BLSYNC_MAINTAINER: $want"
trailers=$(zcat "$T/x/usr/share/doc/blsync/changelog.gz" | grep '^ -- .*  ' || true)
[ -n "$trailers" ] || problem "the changelog has no trailer line"
! grep -qvF -- " -- $want  " <<<"$trailers" || problem "a changelog trailer does not name $want: $trailers"
# cmake refuses an address lintian calls bogus (and one that is not "Name <address>").
for v in "blsync <blsync@localhost>" "blsync <blsync@example.invalid>" "blsync@example.org"; do
    if cmake -S "$S" -B "$T/cfg" -DBLSYNC_MAINTAINER="$v" >"$T/cfg.log" 2>&1; then
        problem "cmake accepted BLSYNC_MAINTAINER=$v"
    else
        grep -q 'BLSYNC_MAINTAINER' "$T/cfg.log" || { tail "$T/cfg.log"; problem "cmake failed otherwise on $v"; }
    fi
done
grep -qw adduser <<<"$(dpkg-deb -f "$deb" Depends)" || problem "no Depends on adduser"
awk 'length > 80 { bad = 1 } END { exit bad }' <<<"$(dpkg-deb -f "$deb" Description)" ||
    problem "a description line is longer than 80 columns"
finish
