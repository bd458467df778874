#!/bin/bash
# SPDX-License-Identifier: MIT
# Disk full during publish (a small tmpfs spool): a clear error, nothing lost, publishing resumes.
. "$(dirname "$0")/../lib.sh"
setclock $T0
mkdir -p "$T/spool"
if ! mount -t tmpfs -o size=512k tmpfs "$T/spool" 2>/dev/null; then
    echo "SKIP: cannot mount a tmpfs (needs root)"
    exit 77
fi
on_exit umount "$T/spool"
write_master_conf "policy|threshold = 1"
start_master
rep() { api POST /v1/reports "{\"ip\":\"$1\",\"source\":\"user\"}"; }
rep 192.0.2.1; expect 200 .listed 1
wait_until 10 published_all || fail "first publish"
s1=$(master_serial)
before=$(ls "$T/spool/main" | sort | tr '\n' ' ')

echo "== fill the spool file system"
dd if=/dev/zero of="$T/spool/filler" bs=4k 2>/dev/null || true # ends with "no space left"
df -h "$T/spool" | tail -1
for i in $(seq 1 50); do rep "192.0.2.$((i + 10))"; expect 200; done
status_is() { [ "$(master_status "$1")" = true ]; }
wait_until 5 status_is '.publisher.failures_total >= 2 and .publisher.last_error == "no_space"' ||
    fail "no disk-full error reported: $(master_status)"
grep -q "event=publish_failed stage=write error=no_space" "$T/master.log" || fail "no clear error in the log"
grep -q "event=publish_retry" "$T/master.log" || fail "no retry"
[ "$(master_serial)" = "$s1" ] || fail "serial moved while the disk was full"
[ "$(pending)" = 50 ] || fail "pending changes: $(pending), want 50"
after=$(ls "$T/spool/main" | sort | tr '\n' ' ')
[ "$before" = "$after" ] || fail "spool changed: '$before' -> '$after'"
for f in "$T"/spool/main/*.delta "$T"/spool/main/*.snap; do
    "$CTL" verify "$f" --key "$T/sign.pub" >/dev/null || fail "$f does not verify while full"
done
# Reports are still accepted (the store is elsewhere) and lookups answer.
rep 192.0.2.200; expect 200 .listed 1
lookup 192.0.2.200; expect 200 .listed true
grep -m 1 "event=publish_failed" "$T/master.log"

echo "== space returns: publishing resumes by itself"
rm -f "$T/spool/filler"
wait_until 5 published_all || fail "publishing did not resume"
[ "$(master_serial)" = $((s1 + 1)) ] || fail "serial $(master_serial), want $((s1 + 1)) (one delta carrying the backlog)"
grep -q "event=publish_resumed" "$T/master.log" || fail "no resume logged"
stop_master
"$CHK" "$T/master.db" "$T/spool/main" "$T/sign.pub" || fail "chain check"
echo PASS
