#!/bin/bash
# SPDX-License-Identifier: MIT
# promtool check metrics on both daemons' catalogs, and docs/METRICS.md names exactly those families.
. "$(dirname "$0")/../lib.sh"
dump="$B/tests/ops/ops_metrics_dump"
doc="$S/docs/METRICS.md"
for role in mirror master; do
    "$dump" $role >"$T/$role.prom"
    if ! promtool check metrics <"$T/$role.prom" >"$T/$role.lint" 2>&1; then
        cat "$T/$role.lint"
        problem "promtool check metrics failed for $role"
    fi
    echo "$role families: $(grep -c '^# TYPE' "$T/$role.prom" || true)"
done
# Families exported by the code, and names documented as `blsync_...` table rows.
cat "$T"/*.prom | sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' | sort -u >"$T/code"
sed -n 's/^| `\(blsync_[a-z0-9_]*\)`.*/\1/p' "$doc" | sort -u >"$T/doc"
if ! diff -u "$T/doc" "$T/code"; then
    problem "docs/METRICS.md (-) and the catalog in runtime/metrics.c (+) disagree"
fi
# A sanity check of the check itself: a counter without _total must be refused.
printf '# HELP x_bad x\n# TYPE x_bad counter\nx_bad 1\n' >"$T/bad.prom"
if promtool check metrics <"$T/bad.prom" >/dev/null 2>&1; then
    problem "promtool accepted a bad exposition"
fi
finish
