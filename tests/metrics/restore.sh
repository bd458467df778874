#!/bin/bash
# SPDX-License-Identifier: MIT
# A master restored from an older backup, with a mirror ahead of it: the
# mirror must not count as having the restored master's delistings (no false
# "propagated"), and the restore procedure of docs/OPERATIONS.md (move the
# serial past the mirrors') brings the mirror back with a snapshot.
. "$(dirname "$0")/../lib.sh"
pki m1
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
stop master
rm -rf "$T/spool" "$T/master.db" "$T/master.db-wal" "$T/master.db-shm"
cp "$T/backup.db" "$T/master.db"
cp -a "$T/spool.bak" "$T/spool"
start_master
wait_until 10 grep -q "event=sync_mirror_ahead mirror=m1 feed=main serial=$S2 head=$S1" "$T/master.log" ||
    fail "the master did not see m1 ahead"

# A delisting decided by the restored master: no mirror has it.
delist 192.0.2.1
wait_until 5 lookup_is 192.0.2.1 .delisting.published true || fail "the delisting was not published"
lookup 192.0.2.1
# An ahead mirror must not count as having it.
expect 200 .delisting.propagated false .delisting.mirrors_acked 0
[ "$(answer m1 192.0.2.1)" = 127.0.0.2 ] || fail "m1 applied a delta it cannot have"
setclock $((T0 + 600000))
wait_until 5 metric_is master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' 600 ||
    fail "the master does not show the delisting as still propagating"
pass "a mirror ahead of a restored master does not count as having its delistings"

# The documented procedure: serial past the mirrors', then the next publish.
stop master
sqlite3 "$T/master.db" "UPDATE meta SET v=$((S2 + 1)) WHERE k='last_serial'"
start_master
list 192.0.2.50
wait_until 10 synced m1 || fail "m1 did not catch up after the serial was moved past it"
[ "$(answer m1 192.0.2.1)" = nx ] || fail "m1 still lists 192.0.2.1"
[ "$(answer m1 192.0.2.50)" = 127.0.0.2 ] || fail "m1 lacks the new listing"
wait_until 5 grep -q "event=sync_applied feed=main type=snapshot" "$T/m1.log" || fail "m1 did not get a snapshot"
lookup 192.0.2.1
expect 200 .delisting.propagated true # after the catch-up
pass "after the documented restore m1 follows the restored master (snapshot), the delisting propagated"
