#!/bin/bash
# SPDX-License-Identifier: MIT
# blsyncctl mirrors and audit against a real master and mirrors: a revoked mirror shows as
# revoked (and counted by blsync_master_mirrors_revoked); forgetting it (audited) takes it out
# of the list, status and metrics (so BlsyncMirrorGone ends), and it stays forgotten across a
# restart; a connected mirror cannot be forgotten; the audit log reads back with --since and --ip.
. "$(dirname "$0")/../lib.sh"
pki m1 m2
echo "read-$TOK" >"$T/read.token"
write_master_conf "policy|mirror_active = 1s" "http|read_token_file = $T/read.token"
start_master
start_mirror m1
start_mirror m2
auth=(--url "$MASTER_URL" --token-file "$T/token")
ctl() { # ctl ARGS...: blsyncctl's output in $T/ctl.out, its stderr in $T/ctl.err, RC its status
    RC=0
    "$CTL" "$@" "${auth[@]}" >"$T/ctl.out" 2>"$T/ctl.err" || RC=$?
}
state_of() { "$CTL" mirrors --json "${auth[@]}" | jq -r --arg n "$1" '.mirrors[] | select(.name == $n) | .state'; }
both_up() { [ "$(state_of m1)" = up ] && [ "$(state_of m2)" = up ]; }
wait_until 10 both_up || fail "mirrors not up: $("$CTL" mirrors "${auth[@]}")"
ctl mirrors
[ $RC = 0 ] || fail "mirrors with every mirror up exited $RC: $(cat "$T/ctl.err")"
grep -qE '^m1 +up +[0-9]+ +0 +([0-9a-f]{16}|-) +(now|[0-9]+ s ago) \([0-9-]+ [0-9:]+ UTC\)$' "$T/ctl.out" ||
    fail "mirrors text: $(cat "$T/ctl.out")"
grep -q '^2 mirrors: 2 up, 0 stale, 0 gone, 0 revoked' "$T/ctl.out" || fail "mirrors counts: $(cat "$T/ctl.out")"
ctl mirrors --json
jq -e '.mirrors | length == 2 and all(.[]; (.acked_serial | type) == "number" and
    (.last_contact_unix | type) == "number" and (.contact_age_s | type) == "number")' \
    "$T/ctl.out" >/dev/null || fail "mirrors --json: $(cat "$T/ctl.out")"
metric_is master 'blsync_master_mirrors_revoked{feed="main"}' 0 ||
    fail "mirrors_revoked with none revoked: $(scrape master | grep mirrors_revoked)"
ok "mirrors: both up, text and --json"

# A connected mirror is not forgotten: it would come back at its next acknowledgement.
ctl mirrors forget m1
[ $RC = 1 ] || fail "forget of a connected mirror exited $RC"
grep -q "connected" "$T/ctl.err" && [ "$(wc -l <"$T/ctl.err")" = 1 ] || fail "forget m1 said: $(cat "$T/ctl.err")"
ctl mirrors forget nosuch
[ $RC = 1 ] && grep -q "knows no mirror named 'nosuch'" "$T/ctl.err" || fail "forget nosuch: $RC $(cat "$T/ctl.err")"
ctl mirrors forget
[ $RC = 2 ] || fail "forget without NAME exited $RC"
ok "forget refuses a connected mirror (1), an unknown one (1), a missing name (2)"

# Revoked: disconnected at the reload, shown as revoked, and gone after mirror_active (1 s):
# the condition of BlsyncMirrorGone.
echo m2 >"$T/revoked"
kill -HUP "${PID[master]}"
wait_until 10 eval '[ "$(state_of m2)" = revoked ]' || fail "m2 not revoked: $("$CTL" mirrors "${auth[@]}")"
wait_until 10 metric_is master 'blsync_master_mirror_active{feed="main",mirror="m2"}' 0 ||
    fail "m2 not gone in the metrics: $(scrape master | grep m2)"
wait_until 10 metric_is master 'blsync_master_mirrors_revoked{feed="main"}' 1 ||
    fail "mirrors_revoked does not count m2: $(scrape master | grep mirrors_revoked)"
ctl mirrors
[ $RC = 1 ] || fail "mirrors with m2 revoked exited $RC, not 1"
grep -qE '^m2 +revoked ' "$T/ctl.out" && grep -q '1 up, 0 stale, 0 gone, 1 revoked' "$T/ctl.out" &&
    grep -q 'blsyncctl mirrors forget NAME' "$T/ctl.out" || fail "mirrors with m2 revoked: $(cat "$T/ctl.out")"
ctl status
grep -qE '^m2 +revoked ' "$T/ctl.out" || fail "status with m2 revoked: $(cat "$T/ctl.out")"
ok "a revoked mirror shows as revoked in mirrors and status (exit 1) and in blsync_master_mirrors_revoked"

# The read-only token lists mirrors and reads the audit log, and cannot forget.
"$CTL" mirrors --url "$MASTER_URL" --token-file "$T/read.token" >/dev/null ||
    [ $? = 1 ] || fail "mirrors with the read-only token"
"$CTL" audit --url "$MASTER_URL" --token-file "$T/read.token" >/dev/null || fail "audit with the read-only token"
rc=0
"$CTL" mirrors forget m2 --url "$MASTER_URL" --token-file "$T/read.token" >/dev/null 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q 'HTTP 401' "$T/err" || fail "forget with the read-only token: $rc $(cat "$T/err")"
[ "$(state_of m2)" = revoked ] || fail "the read-only token forgot m2"
ok "the read-only token reads mirrors and audit, and cannot forget"

t_forget=$(date -u +%FT%TZ)
sleep 1 # the forget is audited in a later second than the listing below
ctl mirrors forget m2 --comment "stolen key"
[ $RC = 0 ] || fail "forget m2 exited $RC: $(cat "$T/ctl.err")"
grep -qE '^forgot mirror m2 \(revoked, serial [0-9]+, last contact ([0-9]+ s ago|now) \(.* UTC\)\)' "$T/ctl.out" ||
    fail "forget said: $(cat "$T/ctl.out")"
[ -z "$(state_of m2)" ] || fail "m2 still listed"
"$CTL" status --json "${auth[@]}" | jq -e '[.mirrors[].name] == ["m1"]' >/dev/null || fail "m2 still in status"
ctl status
[ $RC = 0 ] || fail "status with m2 forgotten exited $RC: $(cat "$T/ctl.out")"
no_m2_series() { ! scrape master | grep -q 'mirror="m2"'; }
wait_until 10 no_m2_series || fail "master still exports m2: $(scrape master | grep 'mirror="m2"')"
# The tick drops m2's series, then sets the counts.
wait_until 5 metric_is master 'blsync_master_mirrors_gone{feed="main"}' 0 || fail "mirrors_gone still counts m2"
wait_until 5 metric_is master 'blsync_master_mirrors_revoked{feed="main"}' 0 || fail "mirrors_revoked still counts m2"
ok "forgotten: out of mirrors, status (exit 0) and the metrics (BlsyncMirrorGone has no series)"

echo "== stays forgotten across a restart; m2 is refused while revoked"
stop_master
start_master
wait_until 10 eval '[ "$(state_of m1)" = up ]' || fail "m1 did not reconnect"
[ -z "$(state_of m2)" ] || fail "m2 back after a restart"
ok "forgotten across a restart"

echo "== audit"
list 192.0.2.7
api DELETE /v1/listings/192.0.2.7 '{"reason":"user-error","actor":"alice","comment":"cleaned"}'; expect 200
ctl audit
[ $RC = 0 ] || fail "audit exited $RC: $(cat "$T/ctl.err")"
grep -qE '^[0-9-]+ [0-9:]+ UTC +[^ ]+ +mirror-forget +m2 +stolen key; state=revoked acked_serial=[0-9]+' "$T/ctl.out" ||
    fail "audit lacks the forget: $(cat "$T/ctl.out")"
# Oldest first: the forget, then the listing, then its removal.
awk '/mirror-forget/ { f = NR } / list / { l = NR } / remove / { r = NR } END { exit !(f && f < l && l < r) }' \
    "$T/ctl.out" || fail "audit order: $(cat "$T/ctl.out")"
ctl audit --ip 192.0.2.7 --json
jq -e '[.entries[].action] == ["remove", "list"] and .next == null and
    (.entries[0].time_unix | type) == "number" and .entries[0].actor == "alice"' "$T/ctl.out" >/dev/null ||
    fail "audit --ip: $(cat "$T/ctl.out")"
ctl audit --ip 192.0.2.8
grep -q '^no audit entries match' "$T/ctl.out" || fail "audit --ip of another address: $(cat "$T/ctl.out")"
ctl audit --since 2099-01-01 --json
jq -e '.entries == []' "$T/ctl.out" >/dev/null || fail "audit --since the future: $(cat "$T/ctl.out")"
ctl audit --since "$t_forget" --json
jq -e '.entries | length == 3' "$T/ctl.out" >/dev/null || fail "audit --since $t_forget: $(cat "$T/ctl.out")"
ctl audit --since 1h --limit 1 --json
jq -e '(.entries | length) == 1 and (.next | type) == "number"' "$T/ctl.out" >/dev/null || fail "audit --limit 1: $(cat "$T/ctl.out")"
ctl audit --since 1h --before "$(jq .next "$T/ctl.out")" --limit 1 --json
jq -e '.entries[0].action == "list"' "$T/ctl.out" >/dev/null || fail "audit --before: $(cat "$T/ctl.out")"
ctl audit --since yesterday
[ $RC = 2 ] && grep -q "is not a time" "$T/ctl.err" || fail "audit --since yesterday: $RC $(cat "$T/ctl.err")"
env -u BLSYNC_TOKEN "$CTL" audit --url "$MASTER_URL" >/dev/null 2>"$T/err" && fail "audit without the token succeeded"
ok "audit: the forget, --ip, --since (date, time, duration), --limit/--before, the token"
finish
