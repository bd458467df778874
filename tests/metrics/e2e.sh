#!/bin/bash
# SPDX-License-Identifier: MIT
# End to end on the controllable clock: a real master and three real mirrors over mutual TLS; one
# delisting decided at T reaches m1 at once, m2 after 90 s and m3 after 1000 s (both paused with
# SIGSTOP while the clock moves): each mirror's histogram puts it in its latency bucket, the
# master's oldest-propagating gauge, per-mirror lag, blsyncctl status and lookup follow it, and
# the master's histogram counts it when the last mirror acknowledges. promtool check metrics on
# real scrapes of both daemons after DNS traffic.
. "$(dirname "$0")/../lib.sh"

setclock $T0
pki m1 m2 m3
# m2 and m3 hang (SIGSTOP) while the clock moves: the master keeps their sessions open for
# 10 minutes of silence, however slow the machine (the default closes them after 10 s).
write_master_conf "metrics|window = 1h" "policy|mirror_active = 2h" "sync|silent_after = 10m"
start_master
for n in m1 m2 m3; do start_mirror $n; done
list 192.0.2.1
list 192.0.2.2
for n in m1 m2 m3; do
    wait_until 10 synced $n || fail "$n did not reach serial $(master_serial)"
    [ "$(answer $n 192.0.2.1)" = 127.0.0.2 ] || fail "$n does not answer the listing"
done
wait_until 5 metric_is master 'blsync_master_mirrors_connected{feed="main"}' 3 || fail "master sees $(metric master 'blsync_master_mirrors_connected{feed="main"}') mirrors"
pass "3 mirrors connected and serving serial $(master_serial)"

prop() { # WHO BUCKET: a delisting propagation histogram bucket
    if [ "$1" = master ]; then
        metric master "blsync_master_delisting_propagation_seconds_bucket{feed=\"main\",le=\"$2\"}"
    else
        metric "$1" "blsync_mirror_delisting_propagation_seconds_bucket{feed=\"main\",le=\"$2\"}"
    fi
}
for n in m1 m2 m3; do [ "$(prop $n +Inf)" = 0 ] || fail "$n counted a delisting before any"; done
[ "$(prop master +Inf)" = 0 ] || fail "master counted a delisting before any"

# ---- the delisting, decided at T, while m2 and m3 are paused -------------------
TD=$((T0 + 60000))
kill -STOP "${PID[m2]}" "${PID[m3]}"
setclock $TD
s0=$(master_serial)
delist 192.0.2.1
s1=$(wait_published "$s0")
wait_until 5 synced m1 || fail "m1 did not apply serial $s1"
[ "$(answer m1 192.0.2.1)" = nx ] || fail "m1 still answers the delisted address"
wait_until 5 metric_is m1 'blsync_mirror_delisting_propagation_seconds_count{feed="main"}' 1 || fail "m1 did not count it"
[ "$(prop m1 0.1)" = 1 ] || fail "m1: applied on the same clock ms, want bucket 0.1, got $(scrape m1 | grep delisting_propagation_seconds_bucket)"
wait_until 5 metric_is master 'blsync_master_delistings_propagating{feed="main"}' 1 || fail "master: not propagating"
pass "m1 applied the delisting at T: bucket le=0.1"

# 90 s later m2 wakes up.
setclock $((TD + 90000))
wait_until 5 metric_is master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' 90 ||
    fail "oldest propagating: $(metric master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}'), want 90"
# The oldest gauge is computed at scrape; lag is set by the master's tick: wait for the tick.
wait_until 5 metric_is master 'blsync_master_mirror_lag_seconds{feed="main",mirror="m2"}' 90 ||
    fail "m2 lag seconds: $(metric master 'blsync_master_mirror_lag_seconds{feed="main",mirror="m2"}')"
wait_until 5 metric_is master 'blsync_master_mirror_lag_serials{feed="main",mirror="m2"}' $((s1 - s0)) || fail "m2 lag serials"
wait_until 5 metric_is master 'blsync_master_mirror_lag_seconds{feed="main",mirror="m1"}' 0 || fail "m1 lag seconds"
"$CTL" status --url "$MASTER_URL" >"$T/status.out" || fail "blsyncctl status"
grep -qE '^m2 +up +[0-9]+ +1 +1 min 30 s +(now|[0-9 a-z]+ ago) \([0-9-]+ [0-9:]+ UTC\)$' "$T/status.out" || fail "status: m2 row: $(cat "$T/status.out")"
grep -qE '^m1 +up +[0-9]+ +0 +0 s ' "$T/status.out" || fail "status: m1 row: $(cat "$T/status.out")"
grep -qE 'delistings propagating: 1; oldest decided 1 min 30 s ago \([0-9-]+ [0-9:]+ UTC\), 2.5% of the 1 h window$' "$T/status.out" ||
    fail "status: oldest: $(cat "$T/status.out")"
grep -q 'mirrors: 3 up, 0 stale, 0 gone' "$T/status.out" || fail "status: counts: $(cat "$T/status.out")"
rc=0
"$CTL" lookup 192.0.2.1 --url "$MASTER_URL" >"$T/lookup.out" || rc=$?
[ $rc = 1 ] || fail "blsyncctl lookup of a delisted address exited $rc, not 1 (not listed)"
grep -q 'delisting propagating: 1 of 3 mirrors have it' "$T/lookup.out" || fail "lookup: $(cat "$T/lookup.out")"
kill -CONT "${PID[m2]}"
wait_until 5 synced m2 || fail "m2 did not apply serial $s1"
wait_until 5 metric_is m2 'blsync_mirror_delisting_propagation_seconds_count{feed="main"}' 1 || fail "m2 did not count it"
[ "$(prop m2 60)" = 0 ] && [ "$(prop m2 120)" = 1 ] ||
    fail "m2: 90 s, want bucket 120 not 60: $(scrape m2 | grep delisting_propagation_seconds_bucket)"
sum=$(metric m2 'blsync_mirror_delisting_propagation_seconds_sum{feed="main"}')
[ "$sum" = 90 ] || fail "m2: latency sum $sum, want 90"
wait_until 5 ctl_says '2 of 3 mirrors have it' lookup 192.0.2.1 ||
    fail "lookup after m2: $("$CTL" lookup 192.0.2.1 --url "$MASTER_URL")"
metric_is master 'blsync_master_delistings_propagating{feed="main"}' 1 || fail "m3 has not acknowledged, yet nothing propagates"
pass "m2 applied it 90 s after the decision: bucket le=120; lookup says 2 of 3"

# 1000 s after the decision m3 wakes up: the last active mirror.
setclock $((TD + 1000000))
wait_until 5 metric_is master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' 1000 ||
    fail "oldest propagating: $(metric master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}'), want 1000"
[ "$(prop master +Inf)" = 0 ] || fail "master observed it before the last mirror acknowledged"
kill -CONT "${PID[m3]}"
wait_until 5 synced m3 || fail "m3 did not apply serial $s1"
[ "$(answer m3 192.0.2.1)" = nx ] || fail "m3 still answers the delisted address"
wait_until 5 metric_is m3 'blsync_mirror_delisting_propagation_seconds_count{feed="main"}' 1 || fail "m3 did not count it"
[ "$(prop m3 900)" = 0 ] && [ "$(prop m3 1800)" = 1 ] ||
    fail "m3: 1000 s, want bucket 1800 not 900: $(scrape m3 | grep delisting_propagation_seconds_bucket)"
wait_until 5 metric_is master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' 0 ||
    fail "oldest propagating did not return to 0"
metric_is master 'blsync_master_delistings_propagating{feed="main"}' 0 || fail "still propagating"
wait_until 5 metric_is master 'blsync_master_delisting_propagation_seconds_count{feed="main"}' 1 ||
    fail "master histogram: $(scrape master | grep delisting_propagation_seconds)"
[ "$(prop master 900)" = 0 ] && [ "$(prop master 1800)" = 1 ] ||
    fail "master: 1000 s, want bucket 1800: $(scrape master | grep delisting_propagation_seconds_bucket)"
msum=$(metric master 'blsync_master_delisting_propagation_seconds_sum{feed="main"}')
[ "$msum" = 1000 ] || fail "master: latency sum $msum, want 1000"
metric_is master 'blsync_master_delistings_window_broken_total{feed="main"}' 0 || fail "broken inside the window"
"$CTL" lookup 192.0.2.1 --url "$MASTER_URL" >"$T/lookup.out" || [ $? = 1 ]
grep -q 'delisting propagated: 3 of 3 active mirrors have it' "$T/lookup.out" || fail "lookup: $(cat "$T/lookup.out")"
ctl_says 'delistings propagating: none' status || fail "status still propagating"
pass "m3 applied it after 1000 s: bucket le=1800 on m3 and on the master (sum $msum s); oldest back to 0"

# ---- promtool check metrics on real scrapes, after DNS traffic -----------------
for n in m1 m2 m3; do
    for q in "$(revname 192.0.2.2).bl.test A" "$(revname 192.0.2.2).bl.test TXT" "$(revname 192.0.2.9).bl.test A" "bl.test SOA" "example.org A"; do
        dq $n +short $q >/dev/null || true
    done
    dq $n +tcp +short "$(revname 192.0.2.2).bl.test" A >/dev/null || true
done
api POST /v1/reports '{"ip":"198.51.100.7","source":"user"}'
expect 200
api POST /v1/reports '{"ip":"example.com","source":"user"}' # refused: counted below
for who in master m1 m2 m3; do
    scrape $who >"$T/$who.prom" || fail "scrape $who"
    promtool check metrics <"$T/$who.prom" >"$T/$who.lint" 2>&1 || fail "promtool check metrics $who: $(cat "$T/$who.lint")"
done
grep -q '^blsync_mirror_dns_queries_total{transport="tcp",qtype="A",rcode="NOERROR"} [1-9]' "$T/m1.prom" || fail "m1: no TCP A query counted"
grep -q '^blsync_mirror_dns_listed_hits_total{zone="bl.test"} [1-9]' "$T/m1.prom" || fail "m1: no listed hit"
for n in m1 m2 m3; do # each mirror names itself as the master names it: its certificate's name
    grep -qx "blsync_mirror_info{name=\"$n\"} 1" "$T/$n.prom" || fail "$n: no blsync_mirror_info{name=\"$n\"}: $(grep mirror_info "$T/$n.prom")"
    grep -q "^blsync_master_mirror_acked_serial{.*mirror=\"$n\"" "$T/master.prom" || fail "master: no series for $n"
done
grep -q '^blsync_master_reports_refused_total{reason="domain"} 1' "$T/master.prom" || fail "master: refused report not counted"
grep -q '^blsync_master_publish_duration_seconds_count{feed="main"} [1-9]' "$T/master.prom" || fail "master: no publish observed"
pass "promtool check metrics: master $(grep -c '^# TYPE' "$T/master.prom") families, m1 $(grep -c '^# TYPE' "$T/m1.prom") families, all clean"
# ---- the active-mirror rule: connected and idle stays active; disconnected goes gone ------
# Three hours on with nothing published: connected mirrors have nothing to acknowledge, yet they
# are in contact (mirror_active is 2h here).
# m3 paused holds one new serial back, so that its lag (set by the master's tick) says when the
# tick has seen the clock move; m1 and m2 acknowledge it, then go three hours without contact.
kill -STOP "${PID[m3]}"
list 192.0.2.3
wait_until 5 synced m1 && wait_until 5 synced m2 || fail "m1, m2 did not apply the listing"
TL=$((TD + 1000000 + 3 * 3600000))
setclock $TL
m3_lag_at_least() {
    local v
    v=$(metric master 'blsync_master_mirror_lag_seconds{feed="main",mirror="m3"}')
    [ -n "$v" ] && [ "${v%.*}" -ge "$1" ]
}
wait_until 5 m3_lag_at_least 10800 ||
    fail "tick: m3 lag $(metric master 'blsync_master_mirror_lag_seconds{feed="main",mirror="m3"}')"
for n in m1 m2; do
    wait_until 5 metric_is master "blsync_master_mirror_contact_age_seconds{feed=\"main\",mirror=\"$n\"}" 0 ||
        fail "idle connected $n: contact age $(metric master "blsync_master_mirror_contact_age_seconds{feed=\"main\",mirror=\"$n\"}")"
done
# m3 is hung: its session is still open, but it answers no heartbeat, so it ages (and still
# holds delistings back: it is active).
m3_age=$(metric master 'blsync_master_mirror_contact_age_seconds{feed="main",mirror="m3"}')
[ "${m3_age%.*}" -ge 10800 ] || fail "hung m3 looks in contact: contact age $m3_age"
wait_until 5 metric_is master 'blsync_master_mirrors_active{feed="main"}' 3 || fail "idle connected mirrors not active"
wait_until 5 metric_is master 'blsync_master_mirrors_gone{feed="main"}' 0 || fail "idle connected mirrors gone"
ctl_says 'mirrors: 3 up, 0 stale, 0 gone' status || fail "status after 3 idle hours"
kill -CONT "${PID[m3]}"
wait_until 5 synced m3 || fail "m3 did not apply the listing"
stop_clean m3
wait_until 5 metric_is master 'blsync_master_mirror_connected{feed="main",mirror="m3"}' 0 || fail "m3 still connected"
ctl_says '^m3 +stale ' status || fail "m3 not stale: $("$CTL" status --url "$MASTER_URL")"
metric_is master 'blsync_master_mirror_active{feed="main",mirror="m3"}' 1 || fail "m3 left the SLO at once"
setclock $((TL + 2 * 3600000 + 60000))
wait_until 5 metric_is master 'blsync_master_mirror_active{feed="main",mirror="m3"}' 0 || fail "m3 not gone after 2h01m"
wait_until 5 metric_is master 'blsync_master_mirrors_gone{feed="main"}' 1 || fail "gone count"
wait_until 5 metric_is master 'blsync_master_mirrors_active{feed="main"}' 2 || fail "m1, m2 no longer active"
rc=0
"$CTL" status --url "$MASTER_URL" >"$T/status.out" || rc=$?
[ $rc = 1 ] || fail "blsyncctl status with a mirror gone exited $rc, not 1 (some behind)"
grep -qE '^m3 +gone ' "$T/status.out" && grep -q 'mirrors: 2 up, 0 stale, 1 gone' "$T/status.out" ||
    fail "status with m3 gone: $(cat "$T/status.out")"
delist 192.0.2.2
wait_until 5 synced m1 && wait_until 5 synced m2 || fail "m1, m2 did not apply"
wait_until 5 ctl_says 'delisting propagated: 2 of 2 active mirrors have it' lookup 192.0.2.2 ||
    fail "lookup with m3 gone: $("$CTL" lookup 192.0.2.2 --url "$MASTER_URL")"
wait_until 5 metric_is master 'blsync_master_delisting_propagation_seconds_count{feed="main"}' 2 || fail "gone m3 holds the delisting back"
# Observed at the acknowledgement; the oldest gauge follows at the master's tick.
wait_until 5 metric_is master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' 0 ||
    fail "oldest not 0 with m3 gone"
pass "idle connected mirrors stay active for 3 h; m3 stopped is stale, then gone after 2h01m (reported, not counted)"
for n in m1 m2; do stop_clean $n; done
stop_master
echo PASS
