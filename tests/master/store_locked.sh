#!/bin/bash
# SPDX-License-Identifier: MIT
# Another process holds the store's write lock (an operator's sqlite3 shell left inside a
# transaction): the master refuses reports at once with 503, Retry-After and the reason, its
# health checks fail and say why, and none of this holds its threads for the busy timeout
# (10 s) per request. Once the lock is let go the master is healthy by itself, and the report
# sent again is stored: nothing acknowledged is lost, nothing refused was half stored.
. "$(dirname "$0")/../lib.sh"
write_master_conf "policy|threshold = 1"
start_master
rep() { api POST /v1/reports "{\"ip\":\"$1\",\"source\":\"user\"}"; }
healthz() { # the HTTP status of /healthz on the metrics listener; the body in $T/healthz
    curl -s --max-time "$_BL_CURL_TIME" -o "$T/healthz" -w '%{http_code}' \
        "http://$(hostport "$(addr_of master)" "$MMET_PORT")/healthz" || true
}
health_is() { [ "$(healthz)" = "$1" ]; }
rep 192.0.2.1
expect 200 .listed 1

echo "== an sqlite3 shell takes the write lock and keeps it"
coproc SQL { sqlite3 "$T/master.db" 2>&1; }
on_exit kill "$SQL_PID"
echo "BEGIN IMMEDIATE; SELECT 'locked';" >&"${SQL[1]}"
read -r -t 10 line <&"${SQL[0]}" || fail "sqlite3 did not answer"
[ "$line" = locked ] || fail "sqlite3 could not take the write lock: $line"

# The first write waits out the busy timeout (10 s) at most; the answer says why.
_bl_secs 30
STATUS=$(curl -s --max-time "$REPLY" -D "$T/hdr" -o "$T/out" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $TOK" --data-binary '{"ip":"192.0.2.2","source":"user"}' \
    "$MASTER_URL/v1/reports") || true
expect_msg 503 "write lock"
grep -qi '^Retry-After: 5' "$T/hdr" || fail "a 503 without Retry-After: $(cat "$T/hdr")"
wait_until 10 health_is 503 || fail "/healthz says $(healthz) while the store is locked"
grep -q "write lock" "$T/healthz" || fail "/healthz does not say why: $(cat "$T/healthz")"
api GET /v1/health "" ""
expect_msg 503 "write lock"
# From now on a write is refused without waiting out the busy timeout: with api's time limit
# (10 s, the busy timeout itself) every one of them is answered.
for i in 3 4 5 6 7 8; do
    rep "192.0.2.$i"
    expect_msg 503 "write lock"
done
running master || fail "the master died"
grep -q 'event=store_locked' "$T/master.log" || fail "the lock is not logged"
ok "locked: reports refused at once with 503 and the reason, health 503"

echo "== the shell lets go"
echo "COMMIT; SELECT 'committed';" >&"${SQL[1]}"
read -r -t 10 line <&"${SQL[0]}" || fail "sqlite3 did not answer"
[ "$line" = committed ] || fail "sqlite3 did not commit: $line"
wait_until 10 health_is 200 || fail "/healthz still $(healthz) after the lock was let go: $(cat "$T/healthz")"
api GET /v1/health "" ""
expect 200 .ok true
grep -q 'event=store_writable' "$T/master.log" || fail "the recovery is not logged"
rep 192.0.2.2
expect 200 .listed 1
lookup 192.0.2.3
expect 200 .listed false # refused while locked: not half stored
ok "healthy again by itself; the report sent again is stored"
finish
