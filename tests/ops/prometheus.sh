#!/bin/bash
# SPDX-License-Identifier: MIT
# promtool check config/rules and the alert unit tests; dashboard queries parse and use documented
# metrics; the queries of the panels that name mirrors and draw thresholds return, on real scrapes,
# the series they should.
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

# The panels that name mirrors, compare connected with active and draw the alert thresholds,
# evaluated (promtool test rules) on real scrapes: a master with a 10-minute window, m1 current,
# m2 stopped before a delisting, 2 minutes later on the controllable clock. Each query of these
# panels must return the series listed for it below; one that returns nothing fails.
setclock $T0
pki m1 m2
write_master_conf "metrics|window = 10m" "policy|mirror_active = 1h"
start_master
start_mirror m1
start_mirror m2
list 192.0.2.10
for n in m1 m2; do wait_until 10 synced $n || fail "$n did not reach serial $(master_serial)"; done
stop_clean m2
wait_until 5 metric_is master 'blsync_master_mirror_connected{feed="main",mirror="m2"}' 0 || fail "m2 still connected"
s0=$(master_serial)
delist 192.0.2.10
s1=$(wait_published "$s0")
wait_until 5 synced m1 || fail "m1 did not apply $s1"
setclock $((T0 + 120000))
for k in 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' \
         'blsync_master_mirror_lag_seconds{feed="main",mirror="m2"}'; do
    wait_until 5 metric_is master "$k" 120 || fail "$k: $(metric master "$k"), not 120"
done
wait_until 5 metric_is master 'blsync_master_mirror_contact_age_seconds{feed="main",mirror="m1"}' 0 ||
    fail "connected m1 keeps a contact age"
mkdir "$T/scr"
scrape master >"$T/scr/master-0.prom"
scrape m1 >"$T/scr/m1-0.prom"

# PANEL-ID REFID then the samples of `max by (mirror) (QUERY)`: {} or a mirror, and the value.
# Master window 600 s; the mirrors keep the default 4 h.
cat >"$T/expect" <<X
5 A {} 1
5 B {} 2
7 A {} 120
7 B {} 600
7 C {} 300
7 D {} 450
10 D {} 600
10 E {} 300
12 A {mirror="m1"} 0 {mirror="m2"} 120
12 B {} 150
12 C {} 300
12 D {} 600
17 A {} 0
17 B {} 7200
17 C {} 14400
27 A {mirror="m2"} $s0
27 B {mirror="m2"} $((s1 - s0))
27 C {mirror="m2"} 120
27 D {mirror="m2"} 120
27 E {mirror="m2"} 0
27 F {mirror="m2"} 120
X
# Every query of these panels has a line above (of the quantiles panel, its threshold lines:
# its quantiles need observed delistings).
jq -r '.panels[] | select(.id == (5, 7, 12, 17, 27)) | "\(.id) \(.targets[].refId)"' "$dash" >"$T/want"
jq -r '.panels[] | select(.id == 10) | .targets[] | select(.legendFormat | test("^(window|at risk)"))
       | "10 \(.refId)"' "$dash" >>"$T/want"
sort -o "$T/want" "$T/want"
cut -d' ' -f1,2 "$T/expect" | sort >"$T/have"
diff "$T/want" "$T/have" || problem "dashboard: a query of a checked panel has no expected series (-) or a line names none (+)"
# expr_tests EXPECT: the promql_expr_test list (JSON) for the lines of EXPECT.
expr_tests() {
    while read -r id ref samples; do
        jq -r --argjson id "$id" --arg ref "$ref" '.panels[] | select(.id == $id) | .targets[]
            | select(.refId == $ref) | .expr' "$dash" \
            | sed -e 's/\$feed/.*/g' -e 's/\$master_job/blsync-master/g' >"$T/q"
        jq -n --rawfile q "$T/q" --arg s "$samples" '{expr: ("max by (mirror) (" + ($q | rtrimstr("\n")) + ")"),
            eval_time: "0m", exp_samples: ($s | [scan("(\\{[^}]*\\}) ([0-9.e+-]+)")
            | {labels: .[0], value: (.[1] | tonumber)}])}'
    done <"$1" | jq -s .
}
# Every family the dashboard names becomes an input series (one sample, at 0m).
echo "series $(grep -o 'blsync_[a-z0-9_]*' "$T/exprs" | sort -u | tr '\n' ' ')" >"$T/series"
"$PY" "$S/tests/metrics/gen_rule_tests.py" "$dir/rules.yml" "$T/scr" 1 "$T/series" >"$T/scraped.json" ||
    fail "generating the input series"
# panel_tests EXPECT OUT: the promtool test file with the scraped series and EXPECT's queries.
panel_tests() {
    jq --argjson t "$(expr_tests "$1")" '.rule_files = [] | .tests[0].alert_rule_test = []
        | .tests[0].promql_expr_test = $t' "$T/scraped.json" >"$2"
}
panel_tests "$T/expect" "$T/panel_tests.json"
if promtool test rules "$T/panel_tests.json" >"$T/promtool.out" 2>&1; then
    pass "dashboard: $(wc -l <"$T/expect") queries of 6 panels return the expected series on $(jq '.tests[0].input_series | length' "$T/panel_tests.json") scraped series"
else
    cat "$T/promtool.out"
    problem "dashboard: a panel query does not return what the scrapes say"
fi
# The check can fail: on the same series, m1 in the holding-back table is refused.
sed 's/^27 A {mirror="m2"}/27 A {mirror="m1"}/' "$T/expect" >"$T/expect.bad"
panel_tests "$T/expect.bad" "$T/bad.json"
promtool test rules "$T/bad.json" >/dev/null 2>&1 && problem "dashboard: promtool accepted m1 as holding back the delisting"
stop_clean m1
stop_master
finish
