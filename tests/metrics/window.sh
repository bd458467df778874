#!/bin/bash
# SPDX-License-Identifier: MIT
# A mirror held offline (its certificate revoked) past a 10-minute window on the controllable
# clock: the master counts the breach once, its own and the mirror's scraped series, fed to
# promtool test rules, fire the at-risk, critical, broken, stale and disconnected alerts when the
# scenario says; the offline mirror's metrics show it behind; reconnected, it catches up.
. "$(dirname "$0")/../lib.sh"
setclock $T0
pki m1 m2
write_master_conf "metrics|window = 10m" "metrics|mirror_ttl = 1s" "metrics|expected_propagation = 1m" \
    "policy|mirror_active = 1h"
start_master
start_mirror m1
write_mirror_conf m2 "sync|stale_after = 500ms" "sync|freeze_after = 1s"
start_mirror m2
list 192.0.2.10
for n in m1 m2; do wait_until 10 synced $n || fail "$n did not reach serial $(master_serial)"; done
[ "$(answer m2 192.0.2.10)" = 127.0.0.2 ] || fail "m2 does not answer the listing"

# Hold m2 offline: revoked at the master, it is refused at every reconnection.
echo m2 >"$T/revoked"
kill -HUP "${PID[master]}"
wait_until 5 metric_is master 'blsync_master_mirror_connected{feed="main",mirror="m2"}' 0 || fail "m2 still connected"
wait_until 5 metric_is m2 'blsync_mirror_connected{feed="main"}' 0 || fail "m2 does not see itself disconnected"
wait_until 5 metric_is m2 'blsync_mirror_stale{feed="main"}' 2 || fail "m2 not frozen after 1 s without heartbeats"
pass "m2 held offline (revoked): disconnected, frozen"

TD=$((T0 + 60000))
setclock $TD
s_before=$(master_serial)
delist 192.0.2.10
s1=$(wait_published "$s_before")
wait_until 5 synced m1 || fail "m1 did not apply $s1"

# One scrape of each daemon per test-clock minute, 0..12 after the decision.
mkdir -p "$T/scr"
N=13
# clock_at S: sets the clock to S seconds after the decision and waits for the master's tick to
# see it: the tick sets m2's lag from the clock (before its window-broken check).
clock_at() {
    setclock $((TD + $1 * 1000))
    wait_until 5 metric_is master 'blsync_master_mirror_lag_seconds{feed="main",mirror="m2"}' "$1" ||
        fail "at $1 s: m2 lag $(metric master 'blsync_master_mirror_lag_seconds{feed="main",mirror="m2"}')"
}
for k in $(seq 0 $((N - 1))); do
    clock_at $((k * 60))
    # A tick one second earlier starts after the one at the minute has run all of its checks;
    # then the clock returns to the minute for the scrapes.
    if [ "$k" -gt 0 ]; then
        clock_at $((k * 60 - 1))
        clock_at $((k * 60))
    fi
    metric_is master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' $((k * 60)) ||
        fail "minute $k: oldest propagating $(metric master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}')"
    # m1 answers every heartbeat: its contact age is 0 again at its next message after the jump.
    wait_until 5 metric_is master 'blsync_master_mirror_contact_age_seconds{feed="main",mirror="m1"}' 0 ||
        fail "minute $k: connected m1 keeps a contact age"
    scrape master >"$T/scr/master-$k.prom"
    scrape m2 >"$T/scr/m2-$k.prom"
done
val() { awk -v k="$3" '$1 == k { print $2 }' "$T/scr/$1-$2.prom"; }
broken='blsync_master_delistings_window_broken_total{feed="main"}'
[ "$(val master 9 "$broken")" = 0 ] || fail "broken before the window ran out"
[ "$(val master 10 "$broken")" = 1 ] || fail "not broken when the window ran out: $(val master 10 "$broken")"
[ "$(val master 12 "$broken")" = 1 ] || fail "broken counted more than once: $(val master 12 "$broken")"
grep -q 'event=delisting_window_broken count=1 window_s=600' "$T/master.log" || fail "breach not logged"
for k in 0 6 12; do
    hb=$(val m2 $k 'blsync_mirror_heartbeat_age_seconds{feed="main"}')
    awk -v h="$hb" -v k=$k 'BEGIN { exit !(h >= 60 * k + 60 && h < 60 * k + 120) }' ||
        fail "m2 heartbeat age at minute $k: $hb"
    [ "$(val m2 $k 'blsync_mirror_stale{feed="main"}')" = 2 ] || fail "m2 not frozen at minute $k"
    [ "$(val m2 $k 'blsync_mirror_serial{feed="main"}')" -lt "$(val master $k 'blsync_master_serial{feed="main"}')" ] ||
        fail "m2 serial not behind the master's at minute $k"
    [ "$(val master $k 'blsync_master_mirror_lag_serials{feed="main",mirror="m2"}')" = $((s1 - s_before)) ] ||
        fail "master: m2 lag serials at minute $k"
    [ "$(val master $k 'blsync_master_mirror_active{feed="main",mirror="m2"}')" = 1 ] || fail "m2 not active at minute $k"
    ca=$(val master $k 'blsync_master_mirror_contact_age_seconds{feed="main",mirror="m2"}')
    awk -v c="$ca" -v k=$k 'BEGIN { exit !(c >= 60 * k + 60 && c < 60 * k + 120) }' ||
        fail "master: m2 contact age at minute $k: $ca (disconnected near T0)"
    [ "$(val master $k 'blsync_master_mirror_contact_age_seconds{feed="main",mirror="m1"}')" = 0 ] ||
        fail "master: connected m1 has a contact age at minute $k"
done
pass "breach counted once at minute 10; m2 shows heartbeat age $(val m2 12 'blsync_mirror_heartbeat_age_seconds{feed="main"}') s, frozen, serial behind"

rc=0
"$CTL" status --url "$MASTER_URL" >"$T/status.out" || rc=$?
[ $rc = 1 ] || fail "blsyncctl status with m2 revoked exited $rc, not 1 (some behind)"
grep -qE '^m2 +revoked +[0-9]+ +1 +12 min ' "$T/status.out" || fail "status: m2 row: $(cat "$T/status.out")"
grep -qE '12 min ago \([0-9-]+ [0-9:]+ UTC\), 120.0% of the 10 min window: BROKEN$' "$T/status.out" || fail "status: $(cat "$T/status.out")"
grep -q 'mirrors: 1 up, 0 stale, 0 gone, 1 revoked' "$T/status.out" || fail "status counts: $(cat "$T/status.out")"
pass "blsyncctl status: m2 revoked, oldest delisting past the window"

# The scraped series through the real alert rules. (Not BlsyncMirrorCannotReachMaster: a revoked
# mirror's blsync_mirror_connected reads 1 for the moment between its side of the TLS 1.3
# handshake and the master's refusal, at every retry, so a scrape can catch it.)
cat >"$T/expect" <<'X'
series blsync_propagation_window_seconds blsync_master_oldest_delisting_propagating_seconds
series blsync_master_delistings_window_broken_total blsync_master_mirror_connected blsync_master_mirror_active
series blsync_mirror_stale
none 6 BlsyncDelistingAtRisk
fire 7 BlsyncDelistingAtRisk master blsync_master_oldest_delisting_propagating_seconds{feed="main"}
none 8 BlsyncDelistingWindowCritical
fire 9 BlsyncDelistingWindowCritical master blsync_master_oldest_delisting_propagating_seconds{feed="main"}
none 9 BlsyncDelistingWindowBroken
fire 10 BlsyncDelistingWindowBroken master blsync_master_delistings_window_broken_total{feed="main"}
fire 0 BlsyncMirrorFrozen m2 blsync_mirror_stale{feed="main"}
none 1 BlsyncMirrorStale
fire 2 BlsyncMirrorStale m2 blsync_mirror_stale{feed="main"}
none 9 BlsyncMirrorDisconnected
fire 10 BlsyncMirrorDisconnected master blsync_master_mirror_connected{feed="main",mirror="m2"}
none 12 BlsyncMirrorGone
X
python3 "$(dirname "$0")/gen_rule_tests.py" "$S/deploy/prometheus/rules.yml" "$T/scr" $N "$T/expect" \
    >"$T/rule_tests.json" || fail "generating the rule tests"
promtool test rules "$T/rule_tests.json" >"$T/promtool.out" 2>&1 ||
    fail "promtool test rules on the scraped series: $(cat "$T/promtool.out")"
# The same series must fail a claim that contradicts them (the check can fail).
sed 's/^none 6 BlsyncDelistingAtRisk/fire 6 BlsyncDelistingAtRisk master blsync_master_oldest_delisting_propagating_seconds{feed="main"}/' \
    "$T/expect" >"$T/expect.bad"
python3 "$(dirname "$0")/gen_rule_tests.py" "$S/deploy/prometheus/rules.yml" "$T/scr" $N "$T/expect.bad" >"$T/bad.json"
promtool test rules "$T/bad.json" >/dev/null 2>&1 && fail "promtool accepted an at-risk alert one minute early"
pass "promtool test rules on $(grep -c '"series"' "$T/rule_tests.json") scraped series: at-risk 7m, critical 9m, broken 10m, frozen, stale, disconnected 10m, not gone"

# Back online: m2 catches up; the late delisting lands in its bucket; the breach is not counted again.
: >"$T/revoked"
kill -HUP "${PID[master]}"
wait_until 10 synced m2 || fail "m2 did not catch up to $s1"
[ "$(answer m2 192.0.2.10)" = nx ] || fail "m2 still answers the delisted address"
wait_until 5 metric_is m2 'blsync_mirror_delisting_propagation_seconds_count{feed="main"}' 1 || fail "m2 did not count the late delisting"
b() { metric m2 "blsync_mirror_delisting_propagation_seconds_bucket{feed=\"main\",le=\"$1\"}"; }
[ "$(b 600)" = 0 ] && [ "$(b 900)" = 1 ] || fail "m2: 720 s, want bucket 900: $(scrape m2 | grep delisting_propagation_seconds_bucket)"
wait_until 5 metric_is m2 'blsync_mirror_stale{feed="main"}' 0 || fail "m2 still stale"
wait_until 5 metric_is master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' 0 || fail "oldest not back to 0"
wait_until 5 metric_is master 'blsync_master_delisting_propagation_seconds_count{feed="main"}' 1 || fail "master did not observe it"
metric_is master 'blsync_master_delisting_propagation_seconds_sum{feed="main"}' 720 || fail "master latency $(metric master 'blsync_master_delisting_propagation_seconds_sum{feed="main"}')"
metric_is master "$broken" 1 || fail "breach counted again at the late acknowledgement"
pass "m2 reconnected: applied after 720 s (bucket le=900), master observed 720 s, breach still counted once"
for n in m1 m2; do stop_clean $n; done
stop_master
echo PASS
