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
# Each sample loads into its daemon and prints back the settings it makes.
for d in master mirror; do
    out=$("$BUILD/$d/blsync-$d" -c "$SRC/deploy/blsync-$d.conf" --print-config 2>&1) ||
        { echo "FAIL: blsync-$d refuses deploy/blsync-$d.conf: $out"; fail=1; continue; }
    want=$(grep -E '^[a-z_.]+ = |^\[' "$SRC/deploy/blsync-$d.conf")
    got=$(grep -E '^[a-z_.]+ = |^\[' <<<"$out")
    [ "$want" = "$got" ] || { echo "FAIL: blsync-$d --print-config of its sample:"; diff <(echo "$want") <(echo "$got"); fail=1; }
done
[ $fail = 0 ] && echo PASS
exit $fail
