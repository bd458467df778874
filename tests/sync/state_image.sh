#!/bin/bash
# SPDX-License-Identifier: MIT
# A mirror restarts from the image of its newest snapshot's index (state_dir/FEED/index.img):
# it answers at once with the state it had, deltas after the snapshot replayed on top. A damaged,
# truncated or foreign image is refused with a log line, the snapshot is replayed instead (the
# same answers), and the image is written again.
. "$(dirname "$0")/../lib.sh"
pki m1
write_master_conf
start_master
for i in $(seq 1 200); do echo "198.18.$((i / 100)).$((i % 100))"; done >"$T/base"
while read -r ip; do list "$ip"; done <"$T/base"
list 192.0.2.1
wait_until 10 published_all || fail "base listings not published"
start_mirror m1
wait_until 20 in_sync m1 || fail "m1 did not follow"
IMG=$T/m1/state/main/index.img
wait_until 5 logged m1 "event=state_image_written feed=main serial=" || fail "m1 wrote no image of its first snapshot"
[ -s "$IMG" ] || fail "no $IMG"
# The master's newest snapshot, then the deltas after it, as a new mirror receives them.
SNAP=$(since m1 | sed -n 's/.*event=state_image_written feed=main serial=\([0-9]*\) .*/\1/p' | tail -1)
logged m1 "event=sync_applied feed=main type=snapshot serial=$SNAP " || fail "the image is not of the snapshot m1 applied"
# Deltas after the snapshot: replayed on top of the image at the restart.
list 192.0.2.2
delist 192.0.2.1
wait_until 10 in_sync m1 || fail "m1 did not apply the deltas"
S=$(master_serial)
[ "$S" -gt "$SNAP" ] || fail "no delta after the snapshot ($SNAP, $S)"
answers_ok() {
    is_answer m1 192.0.2.2 127.0.0.2 && is_answer m1 192.0.2.1 nx && is_answer m1 198.18.1.57 127.0.0.2 &&
        is_answer m1 198.18.0.7 127.0.0.2 && is_answer m1 198.18.3.3 nx
}
answers_ok || fail "m1 answers wrongly before any restart"

# restart WHAT PATTERN: m1 stopped and started; it must log PATTERN, restore serial S and answer as before.
restart() {
    stop m1 TERM
    start_mirror m1
    wait_until 10 logged m1 "event=sync_state_restored feed=main serial=$S " ||
        fail "$1: m1 did not restore serial $S: $(since m1 | grep -E 'state_' | head -5)"
    logged m1 "$2" || fail "$1: m1 did not log $2: $(since m1 | grep -E 'state_' | head -5)"
    answers_ok || fail "$1: m1 answers wrongly after the restart"
    wait_until 10 in_sync m1 || fail "$1: m1 did not follow after the restart"
}
restart "a clean restart" "event=state_image_loaded feed=main serial=$SNAP "
logged m1 "event=sync_applied feed=main type=snapshot" && fail "m1 replayed the snapshot beside its image"
pass "restart: the image of serial $SNAP loaded, deltas to $S replayed on top, same answers"

flip() { # FILE OFFSET: one byte inverted
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 0xff)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
size=$(stat -c %s "$IMG")
flip "$IMG" $((size / 2))
restart "a flipped byte" "event=state_image_refused feed=main file=index.img error=payload_hash"
logged m1 "event=state_image_written feed=main serial=$SNAP " || fail "the damaged image was not written again"
pass "a flipped byte in the image: refused, the snapshot replayed, the same answers, the image rewritten"

truncate -s $((size - 100)) "$IMG"
restart "a truncated image" "event=state_image_refused feed=main file=index.img error=truncated"
pass "a truncated image: refused, the snapshot replayed"

# An image of another state (here: of serial SNAP with another digest) is not this snapshot's.
flip "$IMG" 20
restart "a foreign image" "event=state_image_written feed=main serial=$SNAP "
logged m1 "event=state_image_loaded" && fail "m1 loaded the image of another state"
restart "after the foreign image" "event=state_image_loaded feed=main serial=$SNAP "
pass "an image of another state is ignored and replaced"
