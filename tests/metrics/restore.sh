#!/bin/bash
# SPDX-License-Identifier: MIT
# A master restored from an older backup, with a mirror ahead of it: the
# master moves its serial past the mirror's and sends a snapshot of its own
# state, so the mirror follows the restored master by itself (listings the
# backup lacks disappear), and the restored master's delistings propagate.
. "$(dirname "$0")/lib.sh"
setup_pki m1
write_master_conf
setclock "$T0"
start_master
start_mirror m1
list 192.0.2.1
wait_until 10 synced m1 || fail "m1 never synced"

# Backup at serial S1 (store and spool), then more changes the backup lacks.
sqlite3 "$T/master.db" ".backup $T/backup.db"
cp -a "$T/spool" "$T/spool.bak"
S1=$(master_serial)
list 192.0.2.2
list 192.0.2.3
wait_until 10 synced m1 || fail "m1 never reached the later serial"
S2=$(master_serial)
[ "$S2" -gt "$S1" ] || fail "no serial after the backup ($S1, $S2)"

# Restore the backup over the running state.
kill "${PID[master]}"
wait "${PID[master]}" || true
rm -rf "$T/spool" "$T/master.db" "$T/master.db-wal" "$T/master.db-shm"
cp "$T/backup.db" "$T/master.db"
cp -a "$T/spool.bak" "$T/spool"
start_master
wait_until 10 grep -q "event=sync_mirror_ahead mirror=m1 feed=main serial=$S2 head=$S1" "$T/master.log" ||
    fail "the master did not see m1 ahead"
# The master moves its serial past the mirror's and sends a snapshot of its own state: the
# mirror follows the restored master by itself.
wait_until 10 grep -q "event=serial_advanced from=$S1 to=$((S2 + 1))" "$T/master.log" ||
    fail "the master did not move its serial past m1's"
wait_until 10 synced m1 || fail "m1 did not follow the restored master"
grep -q "event=sync_applied feed=main type=snapshot serial=$((S2 + 1)) from=$S2" "$T/m1.log" ||
    fail "m1 did not take the restored master's snapshot"
[ "$(answer m1 192.0.2.1)" != nx ] || fail "m1 lost a listing the backup has"
[ "$(answer m1 192.0.2.2)" = nx ] || fail "m1 still answers a listing the restored master does not have"
pass "a mirror ahead of a restored master is brought to the master's state by a snapshot past its serial"

# A delisting decided by the restored master reaches the mirror and is counted once it has it.
delist 192.0.2.1
wait_until 10 synced m1 || fail "m1 did not apply the delisting"
[ "$(answer m1 192.0.2.1)" = nx ] || fail "m1 still lists 192.0.2.1"
wait_until 5 sh -c "[ \"\$(curl -sf http://127.0.0.1:$HTTP/v1/lookup/192.0.2.1 | jq -r .delisting.propagated)\" = true ]" ||
    fail "not propagated: $(curl -sf "http://127.0.0.1:$HTTP/v1/lookup/192.0.2.1")"
pass "the restored master's delisting propagated"
