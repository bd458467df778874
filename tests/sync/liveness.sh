#!/bin/bash
# SPDX-License-Identifier: MIT
# What the master says about its mirrors, with a real master and real mirrors over mutual TLS:
# - propagation is timed at the acknowledgement's arrival: the master's delisting histogram
#   agrees with the mirrors' own (not rounded up to a tick), and lookup says "propagated" as soon
#   as the last mirror has applied it;
# - a hung mirror (SIGSTOP) ages in contact_age while its TCP session is still open, and its
#   session is closed after silent_after;
# - one certificate used by two processes: both sessions are shown (sessions = 2, a log line),
#   and while the real mirror is hung the other's acknowledgements do not make a delisting
#   "propagated".
. "$(dirname "$0")/../lib.sh"
pki m1 m2
write_master_conf "sync|heartbeat_interval = 500ms" "sync|silent_after = 3s"
start_master
start_mirror m1
start_mirror m2
ctl_lookup() { "$CTL" lookup "$1" --url "$MASTER_URL"; }
hist_sum() { metric "$1" "blsync_${2}_delisting_propagation_seconds_sum{feed=\"main\"}"; }
list 192.0.2.1
wait_until 5 synced m1 && wait_until 5 synced m2 || fail "mirrors did not follow"

# ---- exact propagation timing ------------------------------------------------------------------
delist 192.0.2.1
wait_until 5 ctl_says 'delisting propagated: 2 of 2' lookup 192.0.2.1 ||
    fail "lookup never said propagated: $(ctl_lookup 192.0.2.1)"
wait_until 5 metric_is master 'blsync_master_delisting_propagation_seconds_count{feed="main"}' 1 ||
    fail "master did not observe the delisting"
m=$(hist_sum master master)
a=$(hist_sum m1 mirror)
b=$(hist_sum m2 mirror)
# The last mirror applied it at max(a, b); its acknowledgement follows at once (one round trip
# on loopback), never a tick later.
awk -v m="$m" -v a="$a" -v b="$b" 'BEGIN { x = a > b ? a : b; exit !(m >= x - 0.001 && m <= x + 0.2) }' ||
    fail "master observed $m s for a delisting the mirrors applied in $a and $b s"
pass "delisting propagation on the master ${m}s, on the mirrors ${a}s and ${b}s"

# ---- a hung mirror -----------------------------------------------------------------------------
kill -STOP "${PID[m2]}"
contact_age() { metric master "blsync_master_mirror_contact_age_seconds{feed=\"main\",mirror=\"$1\"}"; }
m2_aged() { v=$(contact_age m2); [ "${v%.*}" -ge 2 ]; }
wait_until 5 m2_aged || fail "hung m2 looks in contact: $(contact_age m2)"
# A live mirror's age returns to 0 at its next message (a busy machine may delay one).
m1_in_contact() { [ "$(contact_age m1 | cut -d. -f1)" = 0 ]; }
wait_until 5 m1_in_contact || fail "live m1 contact age $(contact_age m1)"
wait_until 10 grep -q "event=sync_mirror_silent mirror=m2" "$T/master.log" || fail "hung m2's session not closed"
wait_until 5 metric_is master 'blsync_master_mirror_connected{feed="main",mirror="m2"}' 0 || fail "m2 still connected"
ctl_says '^m2 +stale ' status || fail "status: $("$CTL" status --url "$MASTER_URL")"
[ "$(metric master 'blsync_master_sync_disconnects_total{reason="silent"}')" -ge 1 ] || fail "silent disconnect not counted"
kill -CONT "${PID[m2]}"
wait_until 10 metric_is master 'blsync_master_mirror_connected{feed="main",mirror="m2"}' 1 || fail "m2 did not come back"
pass "a hung mirror ages in contact_age, is closed after silent_after and shows stale; it reconnects"

# ---- one certificate on two hosts --------------------------------------------------------------
# Here the hung session must outlive the checks, however slow the machine: the master restarts
# with silent_after 10m, and the mirrors reconnect.
ini_set "$T/master.conf" "sync|silent_after = 10m"
stop_master
start_master
for m in m1 m2; do
    wait_until 10 metric_is master "blsync_master_mirror_connected{feed=\"main\",mirror=\"$m\"}" 1 ||
        fail "$m did not reconnect to the restarted master"
done
write_mirror_conf m9 "sync|cert = $T/pki/mirror-m2.pem" "sync|key = $T/pki/mirror-m2.key"
start_mirror m9
wait_until 10 metric_is master 'blsync_master_mirror_sessions{feed="main",mirror="m2"}' 2 ||
    fail "two sessions of m2 not shown: $(metric master 'blsync_master_mirror_sessions{feed="main",mirror="m2"}')"
grep -q 'event=sync_duplicate_identity mirror=m2 sessions=2' "$T/master.log" || fail "no duplicate identity logged"
[ "$(master_status '.mirrors[] | select(.name == "m2") | .sessions')" = 2 ] || fail "status does not show 2 sessions"
kill -STOP "${PID[m2]}" # the real m2 hangs; the copy keeps acknowledging
list 192.0.2.2
wait_until 5 synced m1 || fail "m1 did not apply"
delist 192.0.2.2
wait_until 5 synced m1 || fail "m1 did not apply the delisting"
m9_applied() { grep -q "event=sync_applied feed=main type=delta serial=$(master_serial) " "$T/m9.log"; }
wait_until 5 m9_applied || fail "the copy did not apply the delisting"
# The copy's session has acknowledged the delisting; the hung session has not.
session_acked() {
    [ "$(master_status --argjson s "$1" \
        '.mirrors[] | select(.name == "m2") | .session_list | map(.acked_serial) | (max == $s and min < $s)')" = true ]
}
wait_until 5 session_acked "$(master_serial)" || fail "sessions: $(master_status -c '.mirrors')"
ctl_says 'delisting propagating: 1 of 2 mirrors have it' lookup 192.0.2.2 ||
    fail "a second session's acknowledgement counted for the hung one: $(ctl_lookup 192.0.2.2)"
kill -CONT "${PID[m2]}"
wait_until 10 ctl_says 'delisting propagated: 2 of 2' lookup 192.0.2.2 ||
    fail "not propagated once the real m2 applied it: $(ctl_lookup 192.0.2.2)"
pass "one certificate on two hosts: 2 sessions shown and logged; neither counts for the other"
