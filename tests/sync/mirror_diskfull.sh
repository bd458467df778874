#!/bin/bash
# SPDX-License-Identifier: MIT
# A full disk under a mirror's state_dir (a small tmpfs) is reported as what it is: the mirror
# keeps serving its last persisted state, does not acknowledge what it cannot persist, says so in
# its metrics (state_writable 0, state_write_errors_total{error="no_space"}), /healthz and log,
# counts no refusal, and catches up by itself once space is freed.
. "$(dirname "$0")/../lib.sh"
mkdir -p "$T/m1/state"
if ! mount -t tmpfs -o size=256k tmpfs "$T/m1/state" 2>/dev/null; then
    echo "SKIP: cannot mount a tmpfs (needs root)"
    exit 77
fi
on_exit umount "$T/m1/state"
pki m1
write_master_conf
start_master
start_mirror m1
list 192.0.2.1
wait_until 5 synced m1 || fail "m1 did not follow"
refusals() { scrape m1 | awk '/^blsync_mirror_(deltas|snapshots)_refused_total/ {s += $2} END {print s + 0}'; }
r0=$(refusals)
healthz() { curl -s -o "$T/healthz" -w '%{http_code}' "http://127.0.0.1:${MET_PORT[m1]}/healthz"; }
[ "$(healthz)" = 200 ] || fail "m1 unhealthy before the disk fills"

dd if=/dev/zero of="$T/m1/state/filler" bs=4k 2>/dev/null || true # ends with "no space left"
S=$(master_serial)
list 192.0.2.2
S=$(wait_published "$S")
wait_until 10 metric_is m1 'blsync_mirror_state_writable{feed="main"}' 0 || fail "state_writable did not drop"
[ "$(metric m1 'blsync_mirror_state_write_errors_total{feed="main",error="no_space"}')" -ge 1 ] ||
    fail "no_space not counted: $(scrape m1 | grep state_write)"
[ "$(healthz)" = 503 ] && grep -q 'not writable: no space left on device' "$T/healthz" ||
    fail "/healthz: $(cat "$T/healthz")"
grep -q 'event=sync_state_write .*error=no_space' "$T/m1.log" || fail "no clear log line"
[ "$(answer m1 192.0.2.1)" = 127.0.0.2 ] || fail "m1 stopped serving its persisted state"
[ "$(answer m1 192.0.2.2)" = nx ] || fail "m1 serves what it could not persist"
retried() { grep -q 'event=sync_hello feed=main' <<<"$(tail -n 5 "$T/m1.log")"; }
wait_until 5 retried || fail "m1 does not retry"
[ "$(refusals)" = "$r0" ] || fail "a full disk counted as refusals: $(scrape m1 | grep refused_total)"
[ "$(metric master 'blsync_master_mirror_acked_serial{feed="main",mirror="m1"}')" -lt "$S" ] ||
    fail "m1 acknowledged a serial it could not persist"
# Connected but stuck behind: it ages like a mirror cut off from its master.
age_over() { v=$(metric m1 'blsync_mirror_current_age_seconds{feed="main"}'); [ "${v%.*}" -ge "$1" ]; }
wait_until 10 age_over 3 || fail "a stuck mirror stays current: age $(metric m1 'blsync_mirror_current_age_seconds{feed="main"}')"
pass "full state_dir: state_writable 0, no_space counted, /healthz 503, last persisted state served, no refusal, currency ages"

# The master goes on publishing for 32 s while the disk stays full: every delta the mirror cannot
# store is followed by deltas built on it. They are no disagreement with the master: the mirror
# keeps retrying at its shortest gap (2 s) rather than asking for ever rarer snapshots (4, 8, 16, 32 s apart), so it
# heals within one gap of the disk being freed, however long it was full.
t_end=$((SECONDS + 32))
addr() { echo "10.$(($1 / 65536)).$(($1 / 256 % 256)).$(($1 % 256))"; } # a fast master publishes hundreds
k=10
while [ $SECONDS -lt $t_end ]; do
    list "$(addr $k)"
    k=$((k + 1))
    wait_until 5 published_all || fail "master did not publish"
done
[ "$(answer m1 "$(addr 10)")" = nx ] || fail "m1 serves what it could not persist"
rm -f "$T/m1/state/filler"
t0=$(now_ms)
wait_until 8 synced m1 || fail "m1 did not catch up within 8 s of space being freed (32 s full, $((k - 10)) publishes)"
ok "caught up $(($(now_ms) - t0)) ms after space was freed, the disk full for 32 s under $((k - 10)) publishes"
[ "$(answer m1 192.0.2.2)" = 127.0.0.2 ] && [ "$(answer m1 "$(addr $((k - 1)))")" = 127.0.0.2 ] ||
    fail "m1 lacks what was published while its disk was full"
wait_until 5 metric_is m1 'blsync_mirror_state_writable{feed="main"}' 1 || fail "state_writable stays 0"
[ "$(healthz)" = 200 ] || fail "m1 still unhealthy: $(cat "$T/healthz")"
age_under() { v=$(metric m1 'blsync_mirror_current_age_seconds{feed="main"}'); [ "${v%.*}" -lt "$1" ]; }
wait_until 5 age_under 2 || fail "caught up, but not current: age $(metric m1 'blsync_mirror_current_age_seconds{feed="main"}')"
pass "space freed: m1 caught up by itself and is healthy"
