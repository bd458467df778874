#!/bin/bash
# SPDX-License-Identifier: MIT
# Benchmark: blsync-mirror vs rbldnsd on the same data, same machine, same dnsperf commands.
# Usage: tests/bench/mirror/run.sh [BUILD_DIR]   (not a ctest: takes a few minutes)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BL_BUILD=${1:-${BL_BUILD:-$SRC/build-mirror}}
. "$SRC/tests/lib.sh"
ANSWER=$B/tests/mirror/mirror_answer_bench
for t in "$MIRROR" "$MKFEED" "$CTL" "$ANSWER"; do [ -x "$t" ] || fail "missing $t (build first)"; done
[ -x $PY ] || PY=python3
for c in rbldnsd dnsperf dig; do command -v $c >/dev/null || fail "missing $c"; done
# One server at a time, always named srv, on one port; a big snapshot takes a while to load.
alloc_port 'DNS_PORT[srv]'
PORT=${DNS_PORT[srv]}
HZ=$(getconf CLK_TCK)
log() { echo "$*" | tee -a "$T/summary"; }

rss_kb() { awk '/VmRSS/ {print $2}' /proc/"${PID[srv]}"/status; }
start_rbldnsd() { # FILE
    spawn srv rbldnsd -n -u nobody -w "$T" -b 127.0.0.1/$PORT bl.example.org:ip4set:"$1"
}
start_floor() { # PAUSE_US
    spawn srv "$T/udp_floor" $PORT "$1"
}
# mirror_conf DATA-LINES...: srv's config, as the mirror runs without metrics (COALESCE:
# udp_coalesce_us).
mirror_conf() {
    write_mirror_conf srv --files "server|-metrics_listen" ${COALESCE:+"server|udp_coalesce_us = $COALESCE"}
    {
        echo "[zone bl.example.org]"
        echo "txt = Listed: \$"
        for l in "$@"; do echo "$l"; done
    } >>"$T/srv/mirror.conf"
}
start_mirror_srv() {
    spawn srv "$MIRROR" -c "$T/srv/mirror.conf"
}
answering() { wait_up srv 120 dns_up srv; }
stop_server() { stop srv; }
perf() { # label extra-args...: dnsperf over QUERIES; prints qps, lost, max latency
    local label=$1
    shift
    dnsperf -s 127.0.0.1 -p $PORT -d "$T/queries.txt" -c 1 -T 1 "$@" >"$T/perf.out" 2>&1 || true
    local qps lost maxl
    qps=$(awk '/Queries per second/ {print $4}' "$T/perf.out")
    lost=$(awk '/Queries lost/ {print $3}' "$T/perf.out")
    maxl=$(sed -n 's/.*Average Latency (s):.*max \([0-9.]*\).*/\1/p' "$T/perf.out")
    echo "$qps $lost $maxl"
}

cc -O2 -o "$T/udp_floor" "$SRC/tests/bench/mirror/udp_floor.c"
cc -O2 -o "$T/udp_kernel_cost" "$SRC/tests/bench/mirror/udp_kernel_cost.c"
cc -O2 -o "$T/wake_cost" "$SRC/tests/bench/mirror/wake_cost.c"
echo "generating data (1M and 10M IPv4 /32 entries) in $T ..."
keygen
"$MKFEED" --key "$T/sign.key" --dir "$T/m1" --n 1000000 --queries 200000 > /dev/null
# the classic DNSBL file: one address per line, default A and TXT
{ echo ":127.0.0.2:Listed: \$"; tail -n +2 "$T/m1/set.ip4set" | cut -d' ' -f1; } > "$T/set1m"
cp "$T/m1/queries.txt" "$T/queries.txt"
"$MKFEED" --key "$T/sign.key" --dir "$T/m10" --n 10000000 --deltas 1 --changes 10000 --queries 200000 > /dev/null
{ echo ":127.0.0.2:Listed: \$"; tail -n +2 "$T/m10/set.ip4set" | cut -d' ' -f1; } > "$T/set10m"
rm -f "$T/m10/set.ip4set" "$T/m1/set.ip4set"
chmod 644 "$T"/set1m "$T"/set10m

log "== machine: $(nproc) CPUs, $(uname -r); dnsperf $(dnsperf -h 2>&1 | head -1 | tr -d '\n' || true)"
log "== query mix: $(wc -l < "$T/queries.txt") A queries, half listed, half random"
declare -A R
REPS=${REPS:-3}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
# 1M: alternate the servers REPS times (the machine may be shared), keep medians.
# mirror = the default configuration (udp_coalesce_us = 0 since 2026-12-02);
# mirror1000 = with udp_coalesce_us = 1000 (the default until 2026-12-02);
# mirror500 = udp_coalesce_us = 500 (the default until
# 2026-11-27: smaller batches under load, less latency); floor = tests/bench/mirror/udp_floor.c, a UDP echo with
# no DNS work: what the kernel's socket path alone costs per query here.
# During the 50k qps run, latency_probe.py asks one query at a time beside
# dnsperf and reports what a client sees (its ~2,000 queries are not counted
# in the answered total: CPU per query is overstated by ~0.4% for all).
SERVERS="rbldnsd mirror mirror1000 mirror500 floor"
start_srv() { # SERVER: starts it and waits until it answers
    case $1 in
    rbldnsd) start_rbldnsd set1m ;;
    mirror) mirror_conf "rbldnsd = ip4set:$T/set1m"; start_mirror_srv ;;
    mirror1000) COALESCE=1000 mirror_conf "rbldnsd = ip4set:$T/set1m"; start_mirror_srv ;;
    mirror500) COALESCE=500 mirror_conf "rbldnsd = ip4set:$T/set1m"; start_mirror_srv ;;
    floor) start_floor 0 ;;
    esac
    answering
}
for rep in $(seq "$REPS"); do
    for srv in $SERVERS; do
        start_srv $srv
        R[$srv.rss1m]=$(rss_kb)
        read -r q l m < <(perf "$srv" -l 10 -q 100)
        R[$srv.qps]="${R[$srv.qps]:-} $q"
        # a fresh server for the fixed-rate run: the same state for every
        # server (the mirror would otherwise still remember the closed loop)
        stop_server
        start_srv $srv
        read -r u0 s0 < <(awk '{print $14, $15}' /proc/"${PID[srv]}"/stat)
        # The probe starts a second into the 10 s dnsperf run, on purpose.
        (sleep 1 && "$PY" "$SRC/tests/bench/mirror/latency_probe.py" $PORT 2000 > "$T/probe.out" 2>&1) &
        track probe $!
        read -r q2 l2 m2 < <(perf "$srv" -l 10 -q 100 -Q 50000)
        read -r u1 s1 < <(awk '{print $14, $15}' /proc/"${PID[srv]}"/stat)
        await probe
        R[$srv.lat]="${R[$srv.lat]:-} $(sed -n 's/p50 \([0-9]*\) us, p90 \([0-9]*\) us.*/\1/p' "$T/probe.out")"
        R[$srv.lat90]="${R[$srv.lat90]:-} $(sed -n 's/p50 \([0-9]*\) us, p90 \([0-9]*\) us.*/\2/p' "$T/probe.out")"
        answered=$(awk '/Queries completed/ {print $3}' "$T/perf.out")
        us=$(awk -v c=$((u1 - u0 + s1 - s0)) -v hz="$HZ" -v n="$answered" 'BEGIN {printf "%.2f", c * 1e6 / hz / n}')
        uu=$(awk -v c=$((u1 - u0)) -v hz="$HZ" -v n="$answered" 'BEGIN {printf "%.2f", c * 1e6 / hz / n}')
        R[$srv.us]="${R[$srv.us]:-} $us"
        stop_server
        log "run $rep $srv 1M: RSS ${R[$srv.rss1m]} kB; max-rate $q qps; at 50k qps: $us us CPU/query ($uu user; $answered answered, $l2 lost); probe $(cat "$T/probe.out")"
    done
done
for srv in $SERVERS; do
    R[$srv.qps]=$(echo "${R[$srv.qps]}" | median)
    R[$srv.us]=$(echo "${R[$srv.us]}" | median)
    R[$srv.lat]=$(echo "${R[$srv.lat]}" | median)
    R[$srv.lat90]=$(echo "${R[$srv.lat90]}" | median)
    log "$srv 1M medians: max-rate ${R[$srv.qps]} qps; ${R[$srv.us]} us CPU/query at 50k qps; a client's latency meanwhile p50 ${R[$srv.lat]} us, p90 ${R[$srv.lat90]} us"
done

# The kernel's part alone: one datagram sent and received on loopback in
# batches of 64 by one thread (no wake-up, no DNS work), median of 5 rounds.
R[kernel.us]=$("$T/udp_kernel_cost" 80 | awk '{print $3}' | median)
log "kernel cost of one query's datagrams (udp_kernel_cost, batches of 64, no wake-ups): ${R[kernel.us]} us"
log "one sleep and wake-up (wake_cost): $("$T/wake_cost" 2000 | head -1)"

# 10M: RSS of both, load times
for srv in rbldnsd mirror; do
    t0=$(date +%s.%N)
    if [ $srv = rbldnsd ]; then start_rbldnsd set10m; else mirror_conf "rbldnsd = ip4set:$T/set10m"; start_mirror_srv; fi
    answering
    t1=$(date +%s.%N)
    R[$srv.rss10m]=$(rss_kb)
    R[$srv.load10m]=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    stop_server
    log "$srv 10M ip4set: RSS ${R[$srv.rss10m]} kB; start-to-answering ${R[$srv.load10m]} s"
done

# The answer path alone, in user space (no kernel, no scheduler): batches of
# 32 as a loaded UDP thread sees them, one by one and as the UDP thread answers
# them (mirror_dns_answer_batch: one parse, index prefetch across the batch).
for n in 1m 10m; do
    d=m1
    [ $n = 10m ] && d=m10
    r=$("$ANSWER" bl.example.org "$T/set$n" "$T/$d/queries.txt" 32 7 2> /dev/null | tail -1)
    log "answer path ${n^^} (answer_bench, median of 7): ${r%% \[*}"
done

# 10M signed snapshot load, then a 10,000-change delta applied under 50k qps
mkdir "$T/spool"
mirror_conf "snapshot = $T/m10/snapshot.obj" "trusted_key = $T/sign.pub" "spool_dir = $T/spool"
t0=$(date +%s.%N)
start_mirror_srv
answering
t1=$(date +%s.%N)
snap_us=$(since srv | sed -n 's/.*event=snapshot_loaded.* us=\([0-9]*\).*/\1/p')
log "mirror 10M signed snapshot: verify+decode+index ${snap_us} us; start-to-answering $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s; RSS $(rss_kb) kB"
perf mirror -l 10 -q 100 -Q 50000 > "$T/perf.during" &
PP=$!
# The delta lands 3 s into the 10 s run, on purpose: applied under load.
sleep 3
cp "$T/m10/delta-000001.obj" "$T/spool/.d"
mv "$T/spool/.d" "$T/spool/delta-000001.obj"
wait $PP
read -r q l m < "$T/perf.during"
apply=$(since srv | sed -n 's/.*event=apply .* removed=\([0-9]*\) added=\([0-9]*\) .* us=\([0-9]*\).*/\1 removed, \2 added in \3 us/p')
log "mirror 10M + 10k-change delta: $apply; dnsperf at 50k qps during the apply: $q qps, lost $l, max latency ${m}s"
stop_server

log ""
log "== ratios (blsync-mirror / rbldnsd)"
log "max-rate qps: $(awk -v a="${R[mirror.qps]}" -v b="${R[rbldnsd.qps]}" 'BEGIN {printf "%.2f", a / b}') (target >= 1.5, bounded by dnsperf's single thread)"
log "CPU per query at 50k qps: $(awk -v a="${R[mirror.us]}" -v b="${R[rbldnsd.us]}" 'BEGIN {printf "%.2f", a / b}') (target <= 0.5)"
log "  with udp_coalesce_us = 1000: $(awk -v a="${R[mirror1000.us]}" -v b="${R[rbldnsd.us]}" 'BEGIN {printf "%.2f", a / b}'); with udp_coalesce_us = 500: $(awk -v a="${R[mirror500.us]}" -v b="${R[rbldnsd.us]}" 'BEGIN {printf "%.2f", a / b}'); the no-DNS UDP echo (kernel path alone): $(awk -v a="${R[floor.us]}" -v b="${R[rbldnsd.us]}" 'BEGIN {printf "%.2f", a / b}')"
log "  the kernel's cost of one query's datagrams alone (no wake-ups, no DNS): $(awk -v a="${R[kernel.us]}" -v b="${R[rbldnsd.us]}" 'BEGIN {printf "%.2f", a / b}')"
log "RSS 1M: $(awk -v a="${R[mirror.rss1m]}" -v b="${R[rbldnsd.rss1m]}" 'BEGIN {printf "%.2f", a / b}'); RSS 10M: $(awk -v a="${R[mirror.rss10m]}" -v b="${R[rbldnsd.rss10m]}" 'BEGIN {printf "%.2f", a / b}') (target <= 1)"
echo
cat "$T/summary"
