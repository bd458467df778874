#!/bin/bash
# SPDX-License-Identifier: MIT
# Poll timing: a pulling mirror's polls start poll_interval minus a random
# 0..poll_jitter apart (measured from one poll's start to the next, the time
# a transfer takes included), so that a change of the head is seen within
# poll_interval; and the gaps spread over the jitter.
. "$(dirname "$0")/../lib.sh"

write_master_conf
start_master
alloc_port ORIGIN
start_nginx origin "$ORIGIN" "
    server { listen 127.0.0.1:$ORIGIN; root $T/spool; etag on;
$(spool_locations)
    }"
write_pull_conf m "http://127.0.0.1:$ORIGIN"
ini_set "$T/m/mirror.conf" 'sync|poll_interval = 1s' 'sync|poll_jitter = 400ms'
start_mirror m
heads() { [ "$(awk '$2 ~ /head$/' "$T/origin/access.log" | wc -l)" -ge "$1" ]; }
wait_until 30 heads 16 || fail "the mirror did not poll 16 times"
# Gaps between consecutive head requests (the first poll comes at start).
awk '$2 ~ /head$/ { if (t) printf "%d\n", ($6 - t) * 1000; t = $6 }' "$T/origin/access.log" >"$T/gaps.out"
_bl_ms 0.15
tol=$REPLY
max=$(sort -n "$T/gaps.out" | tail -n 1) min=$(sort -n "$T/gaps.out" | head -n 1)
[ "$max" -le $((1000 + tol)) ] || fail "a gap between polls of $max ms, more than poll_interval 1000 ms: $(tr '\n' ' ' <"$T/gaps.out")"
[ "$min" -ge $((600 - tol)) ] || fail "a gap between polls of $min ms, less than 1000 - 400 ms"
[ $((max - min)) -ge 50 ] || fail "the gaps do not spread: $(tr '\n' ' ' <"$T/gaps.out")"
pass "gaps between polls $min..$max ms (poll_interval 1 s, poll_jitter 400 ms)"
finish
