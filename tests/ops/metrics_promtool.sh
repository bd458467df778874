#!/bin/bash
# SPDX-License-Identifier: MIT
# promtool check metrics on both daemons' catalogs, and docs/METRICS.md names exactly those families.
set -euo pipefail
dump="$BL_BUILD/tests/ops/ops_metrics_dump"
doc="$BL_SRC/docs/METRICS.md"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for role in mirror master; do
    "$dump" $role >"$tmp/$role.prom"
    if ! promtool check metrics <"$tmp/$role.prom" >"$tmp/$role.lint" 2>&1; then
        echo "promtool check metrics failed for $role:"
        cat "$tmp/$role.lint"
        fail=1
    fi
    grep -c '^# TYPE' "$tmp/$role.prom" | sed "s/^/$role families: /"
done
# Families exported by the code, and names documented as `blsync_...` table rows.
cat "$tmp"/*.prom | sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' | sort -u >"$tmp/code"
sed -n 's/^| `\(blsync_[a-z0-9_]*\)`.*/\1/p' "$doc" | sort -u >"$tmp/doc"
if ! diff -u "$tmp/doc" "$tmp/code"; then
    echo "docs/METRICS.md (-) and the catalog in runtime/metrics.c (+) disagree"
    fail=1
fi
# A sanity check of the check itself: a counter without _total must be refused.
printf '# HELP x_bad x\n# TYPE x_bad counter\nx_bad 1\n' >"$tmp/bad.prom"
if promtool check metrics <"$tmp/bad.prom" >/dev/null 2>&1; then
    echo "promtool accepted a bad exposition"
    fail=1
fi
exit $fail
