#!/bin/bash
# SPDX-License-Identifier: MIT
# blsync.conf(5)'s option lists and the sample configs are what the option tables generate, and
# the samples load. `bash tests/config/docs.sh --update` writes them after a table changes.
set -euo pipefail
SRC=${BL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BL_BUILD:-$SRC/build}
GEN=$BUILD/tests/config/config_gen_docs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$GEN" man "$SRC/deploy/man/blsync.conf.5" >"$tmp/blsync.conf.5"
"$GEN" sample master >"$tmp/blsync-master.conf"
"$GEN" sample mirror >"$tmp/blsync-mirror.conf"
fail=0
for f in man/blsync.conf.5 blsync-master.conf blsync-mirror.conf; do
    if [ "${1:-}" = --update ]; then
        cp "$tmp/${f##*/}" "$SRC/deploy/$f"
        echo "wrote deploy/$f"
    elif ! diff -u "$SRC/deploy/$f" "$tmp/${f##*/}"; then
        echo "FAIL: deploy/$f is not what the option tables generate: bash tests/config/docs.sh --update"
        fail=1
    fi
done
# Each sample loads into its daemon and prints back the settings it makes. The
# daemons read the token file and look at the TLS files at load: the samples'
# /etc/blsync/ is a directory here holding what docs/OPERATIONS.md makes there.
"$BUILD/master/blsyncctl" keygen --out "$tmp/etc" >/dev/null
"$BUILD/master/blsyncctl" token --out "$tmp/etc/api.token" >/dev/null
"$BUILD/master/blsyncctl" certs --dir "$tmp/etc/tls" --master-name m --mirror x >/dev/null
mv "$tmp/etc/tls/mirror-x.pem" "$tmp/etc/tls/mirror.pem"
mv "$tmp/etc/tls/mirror-x.key" "$tmp/etc/tls/mirror.key"
for d in master mirror; do
    sed "s|/etc/blsync/|$tmp/etc/|" "$SRC/deploy/blsync-$d.conf" >"$tmp/$d.conf"
    out=$("$BUILD/$d/blsync-$d" -c "$tmp/$d.conf" --print-config 2>&1) ||
        { echo "FAIL: blsync-$d refuses deploy/blsync-$d.conf: $out"; fail=1; continue; }
    want=$(grep -E '^[a-z_.]+ = |^\[' "$tmp/$d.conf")
    got=$(grep -E '^[a-z_.]+ = |^\[' <<<"$out")
    [ "$want" = "$got" ] || { echo "FAIL: blsync-$d --print-config of its sample:"; diff <(echo "$want") <(echo "$got"); fail=1; }
done
[ $fail = 0 ] && echo PASS
exit $fail
