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
. "$(dirname "$0")/../metrics/lib.sh"
setup_pki m1 m2
write_master_conf
sed -i 's/^heartbeat_interval = .*/heartbeat_interval = 500ms\nsilent_after = 3s/' "$T/master.conf"
start_master
start_mirror m1
start_mirror m2
lookup() { "$CTL" lookup "$1" --url "http://127.0.0.1:$HTTP"; }
hist_sum() { metric "$1" "blsync_${2}_delisting_propagation_seconds_sum{feed=\"main\"}"; }
list 192.0.2.1
wait_until 5 synced m1 && wait_until 5 synced m2 || fail "mirrors did not follow"

# ---- exact propagation timing ------------------------------------------------------------------
delist 192.0.2.1
wait_until 5 sh -c "'$CTL' lookup 192.0.2.1 --url http://127.0.0.1:$HTTP | grep -q 'delisting propagated: 2 of 2'" ||
    fail "lookup never said propagated: $(lookup 192.0.2.1)"
wait_until 5 is master 'blsync_master_delisting_propagation_seconds_count{feed="main"}' 1 ||
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
wait_until 5 sh -c "v=\$(curl -sf http://127.0.0.1:$MMET/metrics | awk '\$1 == \"blsync_master_mirror_contact_age_seconds{feed=\\\"main\\\",mirror=\\\"m2\\\"}\" {print int(\$2)}'); [ \"\${v:-0}\" -ge 2 ]" ||
    fail "hung m2 looks in contact: $(metric master 'blsync_master_mirror_contact_age_seconds{feed="main",mirror="m2"}')"
is master 'blsync_master_mirror_contact_age_seconds{feed="main",mirror="m1"}' 0 ||
    [ "$(metric master 'blsync_master_mirror_contact_age_seconds{feed="main",mirror="m1"}' | cut -d. -f1)" = 0 ] ||
    fail "live m1 contact age $(metric master 'blsync_master_mirror_contact_age_seconds{feed="main",mirror="m1"}')"
wait_until 10 grep -q "event=sync_mirror_silent mirror=m2" "$T/master.log" || fail "hung m2's session not closed"
wait_until 5 is master 'blsync_master_mirror_connected{feed="main",mirror="m2"}' 0 || fail "m2 still connected"
"$CTL" status --url "http://127.0.0.1:$HTTP" | grep -qE '^m2 +stale ' || fail "status: $("$CTL" status --url "http://127.0.0.1:$HTTP")"
[ "$(metric master 'blsync_master_sync_disconnects_total{reason="silent"}')" -ge 1 ] || fail "silent disconnect not counted"
kill -CONT "${PID[m2]}"
wait_until 10 is master 'blsync_master_mirror_connected{feed="main",mirror="m2"}' 1 || fail "m2 did not come back"
pass "a hung mirror ages in contact_age, is closed after silent_after and shows stale; it reconnects"

# ---- one certificate on two hosts --------------------------------------------------------------
mkdir -p "$T/m9"
sed -e "s/^listen = .*/listen = 127.0.0.1:$((BASE + 19))/" -e "s#$T/m2/state#$T/m9/state#" \
    "$T/m2/mirror.conf" >"$T/m9/mirror.conf"
"$MIR" -c "$T/m9/mirror.conf" >>"$T/m9.log" 2>&1 &
PID[m9]=$!
wait_until 5 is master 'blsync_master_mirror_sessions{feed="main",mirror="m2"}' 2 ||
    fail "two sessions of m2 not shown: $(metric master 'blsync_master_mirror_sessions{feed="main",mirror="m2"}')"
grep -q 'event=sync_duplicate_identity mirror=m2 sessions=2' "$T/master.log" || fail "no duplicate identity logged"
[ "$(curl -sf "http://127.0.0.1:$HTTP/v1/status" -H "Authorization: Bearer $TOK" | jq '.mirrors[] | select(.name == "m2") | .sessions')" = 2 ] ||
    fail "status does not show 2 sessions"
kill -STOP "${PID[m2]}" # the real m2 hangs; the copy keeps acknowledging
list 192.0.2.2
wait_until 5 synced m1 || fail "m1 did not apply"
delist 192.0.2.2
wait_until 5 synced m1 || fail "m1 did not apply the delisting"
m9_applied() { grep -q "event=sync_applied feed=main type=delta serial=$(master_serial) " "$T/m9.log"; }
wait_until 5 m9_applied || fail "the copy did not apply the delisting"
# The copy's session has acknowledged the delisting; the hung session has not.
session_acked() {
    curl -sf "http://127.0.0.1:$HTTP/v1/status" -H "Authorization: Bearer $TOK" |
        jq -e --argjson s "$1" '.mirrors[] | select(.name == "m2") | .session_list | map(.acked_serial) | (max == $s and min < $s)' >/dev/null
}
wait_until 5 session_acked "$(master_serial)" || fail "sessions: $(curl -sf "http://127.0.0.1:$HTTP/v1/status" -H "Authorization: Bearer $TOK" | jq -c '.mirrors')"
lookup 192.0.2.2 | grep -q 'delisting propagating: 1 of 2 mirrors have it' ||
    fail "a second session's acknowledgement counted for the hung one: $(lookup 192.0.2.2)"
kill -CONT "${PID[m2]}"
wait_until 10 sh -c "'$CTL' lookup 192.0.2.2 --url http://127.0.0.1:$HTTP | grep -q 'delisting propagated: 2 of 2'" ||
    fail "not propagated once the real m2 applied it: $(lookup 192.0.2.2)"
pass "one certificate on two hosts: 2 sessions shown and logged; neither counts for the other"
