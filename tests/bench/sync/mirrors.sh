#!/bin/bash
# SPDX-License-Identifier: MIT
# Propagation benchmark: blsync-master with its sync server and N
# real blsync-mirror processes (default 100)
# on loopback. K delistings; for each, the time from the master's decision
# (decided_at_ms of the API answer) to each mirror applying it (its log),
# then a dig sweep confirms NXDOMAIN on every mirror.
# usage: tests/bench/sync/mirrors.sh [N [K]]
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BL_BUILD=${BL_BENCH_BUILD:-$SRC/build-bench}
N=${1:-100}
K=${2:-10}
cmake -S "$SRC" -B "$BL_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BL_BUILD" -j"$(nproc)" --target blsync-master blsync-mirror blsyncctl >/dev/null
. "$SRC/tests/lib.sh"
mirrors=()
for i in $(seq "$N"); do mirrors+=("m$i"); done
pki "${mirrors[@]}"
# The daemons as this benchmark has always measured them: default heartbeats, expiry and
# freshness, no mirror metrics.
write_master_conf "publisher|-retry_max" "policy|-expire_interval" "sync|-heartbeat_interval"
start_master
list 192.0.2.1
wait_until 10 published_all || fail "the base listing was not published"
for m in "${mirrors[@]}"; do
    write_mirror_conf "$m" "server|-metrics_listen" "sync|-backoff_min" "sync|-backoff_max" \
        "sync|-stale_after" "sync|-freeze_after"
    spawn "$m" "$MIRROR" -c "$T/$m/mirror.conf"
done
# dig batch: one query per mirror.
sweep() { # NAME -> count of mirrors answering 127.0.0.2
    for m in "${mirrors[@]}"; do echo "@127.0.0.1 -p ${DNS_PORT[$m]} $1 A +short +time=1 +tries=1"; done >"$T/batch"
    dig -f "$T/batch" 2>/dev/null | grep -c '^127.0.0.2$' || true
}
swept() { [ "$(sweep "$1")" = "$2" ]; }
wait_until 20 swept 1.2.0.192.bl.test "$N" || fail "not every mirror bootstrapped"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "# $N mirror processes, $K delistings"
: >"$T/lat"
for k in $(seq "$K"); do
    ip=198.51.100.$k
    q=$k.100.51.198.bl.test
    list "$ip"
    wait_until 5 swept "$q" "$N" || true
    serial_before=$(master_serial)
    api DELETE "/v1/listings/$ip?reason=technical-error"
    decided=$(jq -r .decided_at_ms "$T/out")
    wait_until 5 swept "$q" 0 || true
    left=$(sweep "$q")
    [ "$left" = 0 ] || echo "delisting $k: $left mirrors still answer"
    target=$((serial_before + 1))
    for m in "${mirrors[@]}"; do
        ts=$(grep -m 1 "event=sync_applied feed=main type=delta serial=$target " "$T/$m.log" |
            sed 's/^ts=\([^ ]*\)Z.*/\1/' || true)
        [ -n "$ts" ] || { echo "$m: serial $target not applied"; continue; }
        echo $(($(date -d "${ts}Z" +%s%3N) - decided))
    done >>"$T/lat"
done
sort -n "$T/lat" >"$T/lat.s"
n=$(wc -l <"$T/lat.s")
p() { awk -v n="$n" -v q="$1" 'NR == int((n - 1) * q + 1.5) { print }' "$T/lat.s"; }
echo "decision to applied (and answering NXDOMAIN) on $N mirrors x $K delistings: samples=$n" \
    "p50_ms=$(p 0.5) p99_ms=$(p 0.99) max_ms=$(tail -n 1 "$T/lat.s")"
echo "master peak RSS: $(grep VmHWM "/proc/${PID[master]}/status" | awk '{print $2/1024 " MiB"}')"
