#!/bin/bash
# SPDX-License-Identifier: MIT
# blsyncctl's one output rule: human text by default (times humanised, "in 24 h (2027-01-16
# 08:00 UTC)"), the master's JSON with --json on every command that talks to it, JSON fields of
# one type (seconds_to_delisting a number or null, delisting_state beside it); no answer is 3.
. "$(dirname "$0")/../lib.sh"
H=3600000
setclock $T0
write_master_conf "policy|relist_grace = 6h" "policy|threshold = 2" "policy|weight_user = 1" \
    "policy|weight_spamtrap = 2"
start_master
auth=(--url "$MASTER_URL" --token-file "$T/token")
at() { date -u -d @$(($1 / 1000)) '+%F %H:%M UTC'; } # at MS: the absolute time text shows
# run ARGS...: the output in $T/o, RC the exit status; text must not be JSON, --json must be.
run() {
    RC=0
    "$CTL" "$@" "${auth[@]}" >"$T/o" 2>"$T/e" || RC=$?
    if [[ " $* " == *" --json "* ]]; then
        jq -e . "$T/o" >/dev/null || fail "blsyncctl $* --json is not JSON: $(cat "$T/o")"
    else
        ! grep -q '^[{[]' "$T/o" || fail "blsyncctl $* prints JSON without --json: $(cat "$T/o")"
    fi
}
run report 192.0.2.1 user
[ $RC = 0 ] && grep -qx 'accepted 1 report (id 1): 0 newly listed, 0 extended, 0 in the re-listing grace period' "$T/o" ||
    fail "report: $RC $(cat "$T/o") $(cat "$T/e")"
run report 192.0.2.1 spamtrap --json
jq -e '.accepted == 1 and .listed == 1 and .ids == [2]' "$T/o" >/dev/null || fail "report --json: $(cat "$T/o")"
run list add 198.51.100.0/24 --comment x
grep -qx "listed 198.51.100.0/24 (manual, 127.0.0.2, reason 2), since now ($(at $T0)); delisted never (until an operator removes it)" "$T/o" ||
    fail "list add: $(cat "$T/o")"
run list add 203.0.113.5 --duration 2h --json
jq -e '.listed.expires_at_unix == '$((T0 / 1000 + 7200))' and .listed.prefix == "203.0.113.5"' "$T/o" >/dev/null ||
    fail "list add --json: $(cat "$T/o")"
run list show
grep -qE "^192\.0\.2\.1 +policy +127\.0\.0\.2 +[0-9]+ +now \($(at $T0)\) +in 24 h \($(at $((T0 + 24 * H)))\)$" "$T/o" &&
    grep -qE "^198\.51\.100\.0/24 +manual .* never \(until an operator removes it\)$" "$T/o" &&
    grep -qE "^203\.0\.113\.5 +manual .* in 2 h \($(at $((T0 + 2 * H)))\)$" "$T/o" || fail "list show: $(cat "$T/o")"
run list show --limit 1
[ "$(grep -c . "$T/o")" = 2 ] && grep -qx '(more: --after 192.0.2.1)' "$T/e" || fail "list show --limit 1: $(cat "$T/o" "$T/e")"
run list show --json
jq -e '(.listings | length) == 3 and .next == null' "$T/o" >/dev/null || fail "list show --json: $(cat "$T/o")"
ok "report, list add, list show: text and --json"

setclock $((T0 + H))
run lookup 192.0.2.1
grep -qx "  time to delisting: in 23 h ($(at $((T0 + 24 * H))))" "$T/o" &&
    grep -qx "  listed since: 1 h ago ($(at $T0))" "$T/o" || fail "lookup text: $(cat "$T/o")"
run lookup 192.0.2.1 --json
jq -e '.seconds_to_delisting == 82800 and .delisting_state == "scheduled" and
    .listed_since_unix == '$((T0 / 1000))' and .last_report_unix == '$((T0 / 1000))' and
    .relisting_blocked_until == null and .relisting_blocked_until_unix == null' "$T/o" >/dev/null ||
    fail "lookup --json scheduled: $(cat "$T/o")"
run lookup 198.51.100.9 --json
jq -e '.seconds_to_delisting == null and .delisting_state == "until-removed"' "$T/o" >/dev/null ||
    fail "lookup --json until-removed: $(cat "$T/o")"
run lookup 192.0.2.77 --json
[ $RC = 1 ] && jq -e '.seconds_to_delisting == null and .delisting_state == "not-listed"' "$T/o" >/dev/null ||
    fail "lookup --json not-listed: $RC $(cat "$T/o")"
run list remove 203.0.113.5 --reason user-error
grep -qx "removed 203.0.113.5 (user-error): the delisting propagates to the mirrors (blsyncctl lookup follows it); re-listing blocked for 6 h (until $(at $((T0 + 7 * H))))" "$T/o" ||
    fail "list remove: $(cat "$T/o")"
run lookup 203.0.113.5
grep -qx "  delisting: decided now ($(at $((T0 + H)))), cause operator:user-error" "$T/o" &&
    grep -qx "  re-listing blocked for 6 h (until $(at $((T0 + 7 * H))))" "$T/o" || fail "lookup after removal: $(cat "$T/o")"
wait_until 10 published_all || fail "not published"
run lookup 203.0.113.5 --json
jq -e '.seconds_to_delisting == null and .delisting_state == "delisted" and .listed_since_unix == null and
    .relisting_blocked_until_unix == '$(((T0 + 7 * H) / 1000))'' "$T/o" >/dev/null ||
    fail "lookup --json delisted: $(cat "$T/o")"
run list remove 198.51.100.0/24 --reason technical-error --json
jq -e '.removed == true and (.decided_at_ms | type) == "number"' "$T/o" >/dev/null || fail "list remove --json: $(cat "$T/o")"
ok "lookup: humanised times; seconds_to_delisting a number or null with delisting_state; list remove"

for c in "status" "status --json" "mirrors" "mirrors --json" "audit" "audit --json" "reviews list" "reviews list --json"; do
    run $c
    [ $RC = 0 ] || fail "blsyncctl $c exited $RC: $(cat "$T/e")"
done

ok "status, mirrors, audit, reviews: text by default, JSON with --json"

# A long audit log is read in chunks: --ip finds the oldest entries past 10000 others, and
# --limit/--before page through all of them.
sqlite3 -cmd ".timeout 5000" "$T/master.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<10000)
    INSERT INTO audit(t_ms,actor,action,target,reason,detail)
    SELECT $T0+i,'bulk','list','10.0.'||(i/256)||'.'||(i%256),NULL,'kind=manual' FROM n"
total=$(sqlite3 "$T/master.db" "SELECT count(*) FROM audit")
run audit --ip 198.51.100.9 --json
jq -e '[.entries[].action] == ["remove", "list"] and .entries[0].target == "198.51.100.0/24"' "$T/o" >/dev/null ||
    fail "audit --ip through $total entries: $(head -c 600 "$T/o")"
run audit --limit 6000 --json
jq -e '(.entries | length) == 6000 and (.next | type) == "number"' "$T/o" >/dev/null || fail "audit --limit 6000"
run audit --limit 10000 --before "$(jq .next "$T/o")" --json
[ "$(jq '.entries | length' "$T/o")" = $((total - 6000)) ] && jq -e '.next == null' "$T/o" >/dev/null ||
    fail "audit --before: $(jq '.entries | length' "$T/o") of $((total - 6000)), next $(jq .next "$T/o")"
ok "audit: $total entries, --ip finds the oldest ones, pages of 6000 and the rest"

# Without an answer from the master: 3, whatever the command.
alloc_port DEAD
for c in "report 192.0.2.1 user" "list show" "list add 192.0.2.5" "lookup 192.0.2.1" "status" "mirrors" \
    "mirrors forget m1" "audit" "reviews list"; do
    rc=0
    "$CTL" $c --url "http://127.0.0.1:$DEAD" >/dev/null 2>&1 || rc=$?
    [ $rc = 3 ] || problem "blsyncctl $c without a master exited $rc, not 3"
done
ok "no answer from the master: exit 3"

# A master on an IPv6 address: its Host goes in brackets (RFC 9110 7.2), or it answers 400.
stop_master
ini_set "$T/master.conf" "http|listen = [::1]:$HTTP_PORT"
MASTER_URL="http://[::1]:$HTTP_PORT"
if ! ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
    echo "note: no IPv6 loopback here; skipped the [::1] part"
else
    start_master
    auth=(--url "$MASTER_URL" --token-file "$T/token")
    run status
    [ $RC = 0 ] || fail "blsyncctl status --url $MASTER_URL: $RC $(cat "$T/e")"
    auth=(-c "$T/master.conf")
    run status
    [ $RC = 0 ] || fail "blsyncctl status -c (listen [::1]): $RC $(cat "$T/e")"
    ok "a master on [::1]: blsyncctl by --url and by -c"
fi
finish
