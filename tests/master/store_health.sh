#!/bin/bash
# SPDX-License-Identifier: MIT
# A master that cannot write its store fails its health checks and says why, loses no
# acknowledged report, and is healthy again by itself once the store can be written:
# the store's file system full. A store its user cannot write keeps the master from starting.
. "$(dirname "$0")/../lib.sh"
mkdir -p "$T/store"
if ! mount -t tmpfs -o size=2m tmpfs "$T/store" 2>/dev/null; then
    echo "SKIP: cannot mount a tmpfs (needs root)"
    exit 77
fi
on_exit umount -l "$T/store"
write_master_conf "policy|threshold = 1" "master|db = $T/store/master.db"
start_master
rep() { api POST /v1/reports "{\"ip\":\"$1\",\"source\":\"user\"}"; }
healthz() { # prints the HTTP status of /healthz on the metrics listener; the body in $T/healthz
    curl -s --max-time "$_BL_CURL_TIME" -o "$T/healthz" -w '%{http_code}' \
        "http://$(hostport "$(addr_of master)" "$MMET_PORT")/healthz" || true
}
health_is() { [ "$(healthz)" = "$1" ]; }
rep 192.0.2.1
expect 200 .listed 1
[ "$(healthz)" = 200 ] || fail "a working master is unhealthy: $(cat "$T/healthz")"

echo "== the store's disk fills up"
dd if=/dev/zero of="$T/store/filler" bs=4k 2>/dev/null || true # ends with "no space left"
n=0
for i in $(seq 2 400); do # reports until one is refused: the store's pages fill what is left
    rep "198.51.100.$((i % 250)).0/24" >/dev/null
    rep "10.$((i / 250)).$((i % 250)).1"
    [ "$STATUS" = 200 ] || break
    n=$i
done
[ "$STATUS" != 200 ] || fail "400 reports accepted on a full disk"
echo "refused after $n reports: HTTP $STATUS $(cat "$T/out")"
wait_until 5 health_is 503 || fail "/healthz says $(healthz) on a full store"
grep -q "disk is full" "$T/healthz" || fail "/healthz does not say why: $(cat "$T/healthz")"
api GET /v1/health "" ""
expect 503 .ok false
grep -q "disk is full" "$T/out" || fail "/v1/health does not say why: $(cat "$T/out")"
grep -q "event=store_error" "$T/master.log" || fail "no store_error in the log"
# What was acknowledged before is still there.
lookup 192.0.2.1
expect 200 .listed true

echo "== space returns: the next write succeeds and the master is healthy by itself"
rm -f "$T/store/filler"
rep 192.0.2.77
expect 200 .listed 1
wait_until 5 health_is 200 || fail "/healthz still says $(healthz): $(cat "$T/healthz")"
grep -q "event=store_writable" "$T/master.log" || fail "no store_writable in the log"

lookup 192.0.2.1
expect 200 .listed true
stop_master

echo "== a store its user cannot write (created by root): the master refuses to start, says why"
chmod 755 "$T" && chmod 644 "$T/store/master.db" "$T/token" "$T/master.conf"
chown -R nobody "$T/spool" "$T/sign.key"
rc=0
timeout "$(scaled 20)" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$MASTER" -c "$T/master.conf" >"$T/ro.log" 2>&1 || rc=$?
cat "$T/ro.log"
[ "$rc" = 1 ] || fail "a master on a read-only store exited with $rc, want 1"
grep -q "store $T/store/master.db: read-only" "$T/ro.log" || fail "the error does not say read-only"
echo PASS
