#!/bin/bash
# SPDX-License-Identifier: MIT
# Disk full during publish (a small tmpfs spool): a clear error, nothing lost, publishing resumes.
. "$(dirname "$0")/lib.sh"
setclock $T0
mkdir -p "$W/spool"
if ! mount -t tmpfs -o size=512k tmpfs "$W/spool" 2>/dev/null; then
    echo "SKIP: cannot mount a tmpfs (needs root)"
    exit 77
fi
cleanup_mount() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    umount "$W/spool" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup_mount EXIT
SPOOL=$W/spool write_conf "policy|threshold = 1"
start_master
rep() { api POST /v1/reports "{\"ip\":\"$1\",\"source\":\"user\"}"; }
rep 192.0.2.1; expect 200 .listed 1
wait_for 3 published_all || fail "first publish"
s1=$(serial)
before=$(ls "$W/spool/main" | sort | tr '\n' ' ')

echo "== fill the spool file system"
dd if=/dev/zero of="$W/spool/filler" bs=4k 2>/dev/null
df -h "$W/spool" | tail -1
for i in $(seq 1 50); do rep "192.0.2.$((i + 10))"; expect 200; done
status_is() { curl -s "http://127.0.0.1:$PORT/v1/status" | jq -e "$1" >/dev/null; }
wait_for 5 status_is '.publisher.failures_total >= 2 and .publisher.last_error == "no_space"' ||
    fail "no disk-full error reported: $(curl -s http://127.0.0.1:$PORT/v1/status)"
grep -q "event=publish_failed stage=write error=no_space" "$W/log" || fail "no clear error in the log"
grep -q "event=publish_retry" "$W/log" || fail "no retry"
[ "$(serial)" = "$s1" ] || fail "serial moved while the disk was full"
[ "$(pending)" = 50 ] || fail "pending changes: $(pending), want 50"
after=$(ls "$W/spool/main" | sort | tr '\n' ' ')
[ "$before" = "$after" ] || fail "spool changed: '$before' -> '$after'"
for f in "$W"/spool/main/*.delta "$W"/spool/main/*.snap; do
    "$C" verify "$f" --key "$W/m.pub" >/dev/null || fail "$f does not verify while full"
done
# Reports are still accepted (the store is elsewhere) and lookups answer.
rep 192.0.2.200; expect 200 .listed 1
lookup 192.0.2.200; expect 200 .listed true
grep "event=publish_failed" "$W/log" | head -1

echo "== space returns: publishing resumes by itself"
rm -f "$W/spool/filler"
wait_for 5 published_all || fail "publishing did not resume"
[ "$(serial)" = $((s1 + 1)) ] || fail "serial $(serial), want $((s1 + 1)) (one delta carrying the backlog)"
grep -q "event=publish_resumed" "$W/log" || fail "no resume logged"
stop_master
"$CHK" "$W/m.db" "$W/spool/main" "$W/m.pub" || fail "chain check"
echo PASS
