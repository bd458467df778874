#!/bin/bash
# SPDX-License-Identifier: MIT
# promtool check config/rules and the alert unit tests; dashboard queries parse and use documented metrics.
set -euo pipefail
dir="$BL_SRC/deploy/prometheus"
dash="$BL_SRC/deploy/grafana/blsync.json"
doc="$BL_SRC/docs/METRICS.md"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

promtool check config "$dir/prometheus.yml"
promtool check rules "$dir/rules.yml"
(cd "$dir" && promtool test rules tests.yml)

# Every dashboard query (targets and annotations), with Grafana's variables
# replaced, becomes a recording rule, so promtool parses each one.
jq -e '.uid and .title and (.panels | length > 0)' "$dash" >/dev/null
dups=$(jq '[.panels[].id] | length - (unique | length)' "$dash")
[ "$dups" = 0 ] || { echo "dashboard: duplicate panel ids"; fail=1; }
jq -r '[.panels[].targets[]?.expr, .annotations.list[].expr] | map(select(. != null)) | .[]' "$dash" \
    | sed -e 's/\$__rate_interval/5m/g' -e 's/\$__interval/1m/g' -e 's/\$__range/1d/g' \
          -e 's/\$feed/.*/g' -e 's/\$master_job/blsync-master/g' >"$tmp/exprs"
n=$(wc -l <"$tmp/exprs")
[ "$n" -ge 20 ] || { echo "dashboard: only $n queries found"; fail=1; }
if grep -n '\$' "$tmp/exprs"; then
    echo "dashboard: unknown variable left in the queries above"
    fail=1
fi
jq -R -s '{groups: [{name: "dashboard", rules: (split("\n") | map(select(length > 0))
          | to_entries | map({record: ("dashboard:q" + (.key | tostring)), expr: .value}))}]}' \
    "$tmp/exprs" >"$tmp/dash-rules.yml"
promtool check rules "$tmp/dash-rules.yml" || { echo "dashboard: a query does not parse"; fail=1; }

# Only documented metrics in rules and dashboard.
sed -n 's/^| `\(blsync_[a-z0-9_]*\)`.*/\1/p' "$doc" | sort -u >"$tmp/doc"
cat "$dir/rules.yml" "$tmp/exprs" | grep -o 'blsync_[a-z0-9_]*' \
    | sed -E 's/_(bucket|sum|count)$//' | sort -u >"$tmp/used"
# The regex matcher in rules.yml names two families by pattern.
grep -v '^blsync_mirror_$' "$tmp/used" >"$tmp/used2" || true
missing=$(comm -23 "$tmp/used2" "$tmp/doc")
if [ -n "$missing" ]; then
    echo "used in deploy/ but not documented in docs/METRICS.md:"
    echo "$missing"
    fail=1
fi
# Every alert in rules.yml has a unit test.
for a in $(sed -n 's/^ *- alert: //p' "$dir/rules.yml"); do
    grep -q "alertname: $a\$" "$dir/tests.yml" || { echo "alert $a has no test"; fail=1; }
    grep -q "^| $a |" "$doc" || { echo "alert $a is not explained in docs/METRICS.md"; fail=1; }
done
exit $fail
