#!/bin/bash
# SPDX-License-Identifier: MIT
# udp_coalesce_us: under load the UDP thread pauses to batch queries (bigger
# batches than without the option, every query still answered right); at a low
# rate it never pauses, so a lone query waits for nothing; and a client that
# waits for its answers before sending more (a closed loop) is not slowed down.
. "$(dirname "$0")/lib.sh"
command -v dnsperf > /dev/null || fail "dnsperf is not installed (tests/deps.txt)"
command -v curl > /dev/null || fail "curl is not installed (tests/deps.txt)"

keygen
"$MKFEED" --key "$T/keys/signing.key" --dir "$T/feed" --n 2000 --lifetime 86400 --queries 20000 \
    > /dev/null
listed=$(awk '$1 == "L" {print $2; exit}' "$T/feed/final.txt")
lname=$(revname "$listed").bl.example.org
uname=1.0.0.127.bl.example.org # RFC 5782: never listed
[ -n "$listed" ] || fail "feed has no listed sample"

conf() { # COALESCE_US
    cat > "$T/tmpl.conf" <<CONF
[server]
listen = 127.0.0.1:@PORT@
threads = 1
udp_coalesce_us = $1
metrics_listen = 127.0.0.1:@MPORT@
[zone bl.example.org]
snapshot = @T@/feed/snapshot.obj
trusted_key = @T@/keys/signing.pub
CONF
}
metric() { curl -sf --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
udp_queries() {
    curl -sf --max-time 5 "http://127.0.0.1:$MPORT/metrics" |
        awk '/^blsync_mirror_dns_queries_total\{transport="udp"/ {s += $2} END {print s + 0}'
}
check_answers() { # WHEN
    [ "$(dq +short "$lname" A)" != "" ] || fail "$1: listed $listed not answered"
    expect_status NXDOMAIN "$uname" A
}
# load RATE: dnsperf for 3 s; prints "queries batches pauses" added during the run
load() {
    local q0 b0 p0 sent lost
    q0=$(udp_queries) b0=$(metric blsync_mirror_udp_batches_total)
    p0=$(metric blsync_mirror_udp_coalesce_pauses_total)
    dnsperf -s 127.0.0.1 -p "$PORT" -d "$T/feed/queries.txt" -c 1 -T 1 -Q "$1" -l 3 -t 2 \
        > "$T/perf.out" 2>&1 &
    local perf=$!
    PIDS+=("$perf")
    sleep 1.5
    check_answers "under load" # answered right while the thread pauses
    wait "$perf" || true
    sent=$(awk '/Queries sent/ {print $3}' "$T/perf.out")
    lost=$(awk '/Queries lost/ {print $3}' "$T/perf.out")
    [ -n "$sent" ] && [ "$sent" -ge 10000 ] || { cat "$T/perf.out" >&2; fail "dnsperf sent only '$sent'"; }
    [ "$lost" = 0 ] || { cat "$T/perf.out" >&2; fail "$lost of $sent queries lost"; }
    echo "$(($(udp_queries) - q0)) $(($(metric blsync_mirror_udp_batches_total) - b0))" \
        "$(($(metric blsync_mirror_udp_coalesce_pauses_total) - p0))"
}

# Without the option: the baseline batch size at this rate, and no pause.
conf 0
start_mirror "$T/tmpl.conf"
read -r q0 b0 p0 < <(load 15000)
[ "$p0" = 0 ] || fail "udp_coalesce_us = 0 paused $p0 times"
kill "$MPID"
wait "$MPID" 2>/dev/null || true

conf 1000
start_mirror "$T/tmpl.conf"
# A low rate: one query at a time never pauses.
for _ in $(seq 30); do check_answers "one at a time"; done
[ "$(metric blsync_mirror_udp_coalesce_pauses_total)" = 0 ] ||
    fail "paused at a low rate: $(metric blsync_mirror_udp_coalesce_pauses_total)"
ok "udp_coalesce_us = 1000: 60 queries one at a time, every answer right, 0 pauses"
# Under load: pauses, and batches of at least 6 queries and 1.5 times the
# baseline's (15 at 15k qps with 1 ms pauses; the baseline is 1.5-3 queries,
# up to 5.5 when the host is slow).
read -r q1 b1 p1 < <(load 15000)
[ "$p1" -gt 0 ] || fail "no pause under load ($q1 queries in $b1 batches)"
awk -v q0="$q0" -v b0="$b0" -v q1="$q1" -v b1="$b1" 'BEGIN {exit !(b0 > 0 && b1 > 0 && q1 / b1 >= 6 && q1 / b1 >= 1.5 * q0 / b0)}' ||
    fail "coalesced batches $q1/$b1 not 6 queries and 1.5 times the baseline $q0/$b0"
ok "under 15k qps: $p1 pauses, mean batch $(awk -v q="$q1" -v b="$b1" 'BEGIN {printf "%.1f", q / b}') queries vs $(awk -v q="$q0" -v b="$b0" 'BEGIN {printf "%.1f", q / b}') without, 0 lost"
# Load gone: back to no pauses.
sleep 0.5
pz=$(metric blsync_mirror_udp_coalesce_pauses_total)
for _ in $(seq 20); do check_answers "after the load"; done
[ "$(metric blsync_mirror_udp_coalesce_pauses_total)" = "$pz" ] || fail "still pausing once the load stopped"
ok "after the load: 40 queries one at a time, no pause"

# A closed loop (dnsperf with 20 queries in flight and no rate limit), on a
# fresh daemon: pausing would slow the client down; the probe sees it in two
# half-second cycles in a row and pausing stops (for 10 s).
kill -TERM "$MPID"
wait "$MPID" || fail "exit status after SIGTERM"
grep -q "event=stopped .*udp_pauses=$pz " "$T/mirror.log" || fail "stop line does not count the pauses"
start_mirror "$T/tmpl.conf"
pz=0
dnsperf -s 127.0.0.1 -p "$PORT" -d "$T/feed/queries.txt" -c 1 -T 1 -q 20 -l 6 -t 2 \
    > "$T/perf.out" 2>&1 &
perf=$!
PIDS+=("$perf")
sleep 3.2
pa=$(metric blsync_mirror_udp_coalesce_pauses_total)
wait "$perf" || true
pb=$(metric blsync_mirror_udp_coalesce_pauses_total)
lost=$(awk '/Queries lost/ {print $3}' "$T/perf.out")
[ "$lost" = 0 ] || { cat "$T/perf.out" >&2; fail "$lost queries lost in the closed loop"; }
[ "$pa" -gt 0 ] || fail "no pause at all in the closed loop's first seconds: the probe is not tested"
[ "$pb" = "$pa" ] || fail "still pausing a closed-loop client after 3.2 s: $pa -> $pb"
ok "closed loop: $pa pauses before the probe turned them off, none in the last 2.8 s"
pz=$pb
kill -TERM "$MPID"
wait "$MPID" || fail "exit status after SIGTERM"
grep -q "event=stopped .*udp_pauses=$pz " "$T/mirror.log" || fail "stop line does not count the pauses"
echo PASS
