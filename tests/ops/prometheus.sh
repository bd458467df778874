#!/bin/bash
# SPDX-License-Identifier: MIT
# promtool check config/rules and the alert unit tests; dashboard queries parse and use documented metrics.
. "$(dirname "$0")/../lib.sh"
dir="$S/deploy/prometheus"
dash="$S/deploy/grafana/blsync.json"
doc="$S/docs/METRICS.md"

promtool check config "$dir/prometheus.yml"
promtool check rules "$dir/rules.yml"
(cd "$dir" && promtool test rules tests.yml)

# Every dashboard query (targets and annotations), with Grafana's variables
# replaced, becomes a recording rule, so promtool parses each one.
jq -e '.uid and .title and (.panels | length > 0)' "$dash" >/dev/null
dups=$(jq '[.panels[].id] | length - (unique | length)' "$dash")
[ "$dups" = 0 ] || problem "dashboard: duplicate panel ids"
jq -r '[.panels[].targets[]?.expr, .annotations.list[].expr] | map(select(. != null)) | .[]' "$dash" \
    | sed -e 's/\$__rate_interval/5m/g' -e 's/\$__interval/1m/g' -e 's/\$__range/1d/g' \
          -e 's/\$feed/.*/g' -e 's/\$master_job/blsync-master/g' >"$T/exprs"
n=$(wc -l <"$T/exprs")
[ "$n" -ge 20 ] || problem "dashboard: only $n queries found"
if grep -n '\$' "$T/exprs"; then
    problem "dashboard: unknown variable left in the queries above"
fi
jq -R -s '{groups: [{name: "dashboard", rules: (split("\n") | map(select(length > 0))
          | to_entries | map({record: ("dashboard:q" + (.key | tostring)), expr: .value}))}]}' \
    "$T/exprs" >"$T/dash-rules.yml"
promtool check rules "$T/dash-rules.yml" || problem "dashboard: a query does not parse"

# Only documented metrics in rules and dashboard.
sed -n 's/^| `\(blsync_[a-z0-9_]*\)`.*/\1/p' "$doc" | sort -u >"$T/doc"
cat "$dir/rules.yml" "$T/exprs" | grep -o 'blsync_[a-z0-9_]*' \
    | sed -E 's/_(bucket|sum|count)$//' | sort -u >"$T/used"
# The regex matcher in rules.yml names two families by pattern.
grep -v '^blsync_mirror_$' "$T/used" >"$T/used2" || true
missing=$(comm -23 "$T/used2" "$T/doc")
if [ -n "$missing" ]; then
    echo "$missing"
    problem "used in deploy/ but not documented in docs/METRICS.md (above)"
fi
# Every alert in rules.yml has a unit test.
for a in $(sed -n 's/^ *- alert: //p' "$dir/rules.yml"); do
    grep -q "alertname: $a\$" "$dir/tests.yml" || problem "alert $a has no test"
    grep -q "^| $a |" "$doc" || problem "alert $a is not explained in docs/METRICS.md"
done
finish
