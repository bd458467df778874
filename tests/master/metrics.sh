#!/bin/bash
# SPDX-License-Identifier: MIT
# Master metrics on the controllable clock: a delisting held back by a mirror that has not
# acknowledged it ages in oldest_delisting_propagating, breaks the window once, and is observed
# in the propagation histogram when the mirror acknowledges; a gone mirror stops holding it back.
. "$(dirname "$0")/../lib.sh"
H=3600000
setclock $T0
write_master_conf "metrics|window = 1h" "policy|mirror_active = 3h"
start_master
sql() { sqlite3 -cmd ".timeout 5000" "$T/master.db" "$1"; }
# contact_age S: the master's tick has seen the clock S seconds after m1 was last heard from.
contact_age() { metric_is master 'blsync_master_mirror_contact_age_seconds{feed="main",mirror="m1"}' "$1"; }

api POST /v1/reports '{"ip":"192.0.2.1","source":"spamtrap"}'; expect 200 .listed 1
wait_until 10 published_all || fail publish
s1=$(master_serial)
# One mirror, current, heard from now.
sql "INSERT INTO mirrors VALUES('m1',$s1,$(clock_ms),$(clock_ms))"
api DELETE "/v1/listings/192.0.2.1?reason=user-error"; expect 200
wait_until 10 published_all || fail publish
s2=$(master_serial)
wait_until 10 metric_is master 'blsync_master_delistings_propagating{feed="main"}' 1 ||
    fail "not propagating: $(scrape master | grep propagating)"
metric_is master 'blsync_master_delistings_decided_total{feed="main",reason="operator"}' 1 || fail decided
metric_is master 'blsync_master_mirror_lag_serials{feed="main",mirror="m1"}' $((s2 - s1)) || fail "lag serials"

echo "== 50 minutes on: at risk, not broken"
setclock $((T0 + 50 * 60000))
sql "UPDATE mirrors SET last_contact_ms=$(clock_ms)"
wait_until 10 metric_is master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' 3000 ||
    fail "oldest: $(scrape master | grep oldest)"
metric_is master 'blsync_master_delistings_window_broken_total{feed="main"}' 0 || fail "broken too early"

echo "== past the window: broken once"
setclock $((T0 + 61 * 60000))
sql "UPDATE mirrors SET last_contact_ms=$(clock_ms)"
wait_until 10 metric_is master 'blsync_master_delistings_window_broken_total{feed="main"}' 1 || fail "not broken"
# Two more ticks past the window: still counted once. The first has surely ended when the
# second one sets m1's contact age to 20.
setclock $((T0 + 61 * 60000 + 10000))
wait_until 10 contact_age 10 || fail "the tick did not see the clock move"
setclock $((T0 + 61 * 60000 + 20000))
wait_until 10 contact_age 20 || fail "the tick did not see the clock move"
metric_is master 'blsync_master_delistings_window_broken_total{feed="main"}' 1 || fail "counted twice"
lookup 192.0.2.1; expect 200 .seconds_to_delisting 0 .delisting.mirrors_acked 0 .delisting.mirrors_total 1

echo "== the mirror acknowledges: observed, nothing propagating"
setclock $((T0 + 62 * 60000))
sql "UPDATE mirrors SET acked_serial=$s2, last_contact_ms=$(clock_ms)"
wait_until 10 metric_is master 'blsync_master_delisting_propagation_seconds_count{feed="main"}' 1 ||
    fail "not observed: $(scrape master | grep propagation_seconds)"
sum=$(metric master 'blsync_master_delisting_propagation_seconds_sum{feed="main"}')
awk -v s="$sum" 'BEGIN { exit !(s >= 3600 && s <= 3800) }' || fail "latency $sum, want ~3720 s"
# Observed when the tick reads the acknowledgement; the gauges follow later in that tick.
wait_until 5 metric_is master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' 0 || fail "oldest not 0"
wait_until 5 metric_is master 'blsync_master_delistings_propagating{feed="main"}' 0 || fail "still propagating"
lookup 192.0.2.1; expect 200 .delisting.propagated true .seconds_to_delisting null

echo "== a mirror gone for longer than mirror_active no longer holds delistings back"
api POST /v1/reports '{"ip":"192.0.2.2","source":"spamtrap"}'
wait_until 10 published_all || fail publish
api DELETE "/v1/listings/192.0.2.2?reason=technical-error"; expect 200
wait_until 10 published_all || fail publish
wait_until 10 metric_is master 'blsync_master_delistings_propagating{feed="main"}' 1 || fail "not propagating"
setclock $((T0 + 62 * 60000 + 3 * H + 60000))
wait_until 10 metric_is master 'blsync_master_mirrors_gone{feed="main"}' 1 || fail "mirror not gone"
metric_is master 'blsync_master_mirror_active{feed="main",mirror="m1"}' 0 || fail "mirror still active"
wait_until 10 metric_is master 'blsync_master_delistings_propagating{feed="main"}' 0 || fail "gone mirror holds back"
scrape master >"$T/metrics.prom"
promtool check metrics <"$T/metrics.prom" >/dev/null 2>&1 || fail "promtool check metrics"
stop_master
echo PASS
