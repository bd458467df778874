#!/bin/bash
# SPDX-License-Identifier: MIT
# Propagation benchmark (issue 5): blsync-master with its sync server and N
# real blsync-mirror processes (default 100)
# on loopback. K delistings; for each, the time from the master's decision
# (decided_at_ms of the API answer) to each mirror applying it (its log),
# then a dig sweep confirms NXDOMAIN on every mirror.
# usage: tests/bench/sync/mirrors.sh [N [K]]
set -eu
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
B=${BL_BENCH_BUILD:-$SRC/build-bench}
N=${1:-100}
K=${2:-10}
cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$B" -j"$(nproc)" --target blsync-master blsync-mirror blsyncctl >/dev/null
T=$(mktemp -d /tmp/bl_bench_mirrors.XXXXXX)
BASE=$((20000 + $$ % 5000))
HTTP=$BASE
SYNC=$((BASE + 1))
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
"$B/master/blsyncctl" keygen --out "$T" --name sign >/dev/null
names=()
for i in $(seq "$N"); do names+=(--mirror "m$i"); done
"$B/master/blsyncctl" certs --dir "$T/pki" --master-name master.test "${names[@]}" >/dev/null
echo tok >"$T/token"
cat >"$T/master.conf" <<EOT
[master]
feed = main
db = $T/master.db
[http]
listen = 127.0.0.1:$HTTP
token_file = $T/token
[publisher]
spool = $T/spool
key = $T/sign.key
delay = 10ms
max_delay = 50ms
[sync]
listen = 127.0.0.1:$SYNC
cert = $T/pki/master.pem
tls_key = $T/pki/master.key
ca = $T/pki/ca.pem
EOT
"$B/master/blsync-master" -c "$T/master.conf" >"$T/master.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/v1/health" >/dev/null && break; sleep 0.05; done
api() { curl -sf -X "$1" -H "Authorization: Bearer tok" ${3:+-d "$3"} "http://127.0.0.1:$HTTP$2"; }
api POST /v1/listings '{"prefix":"192.0.2.1","comment":"base"}' >/dev/null
sleep 0.3
for i in $(seq "$N"); do
    mkdir -p "$T/m$i"
    cat >"$T/m$i/mirror.ini" <<EOT
[server]
listen = 127.0.0.1:$((BASE + 100 + i))
threads = 1
[sync]
master = 127.0.0.1:$SYNC
server_name = master.test
cert = $T/pki/mirror-m$i.pem
key = $T/pki/mirror-m$i.key
ca = $T/pki/ca.pem
state_dir = $T/m$i/state
[zone bl.test]
feed = main
ttl = 1
trusted_key = $T/sign.pub
EOT
    "$B/mirror/blsync-mirror" -c "$T/m$i/mirror.ini" 2>"$T/m$i.log" &
    PIDS+=($!)
done
# dig batch: one query per mirror.
sweep() { # NAME -> count of mirrors answering 127.0.0.2
    for i in $(seq "$N"); do echo "@127.0.0.1 -p $((BASE + 100 + i)) $1 A +short +time=1 +tries=1"; done >"$T/batch"
    dig -f "$T/batch" 2>/dev/null | grep -c '^127.0.0.2$' || true
}
for _ in $(seq 200); do [ "$(sweep 1.2.0.192.bl.test)" = "$N" ] && break; sleep 0.1; done
[ "$(sweep 1.2.0.192.bl.test)" = "$N" ] || { echo "not every mirror bootstrapped"; exit 1; }
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "# $N mirror processes, $K delistings"
: >"$T/lat"
for k in $(seq "$K"); do
    ip=198.51.100.$k
    q=$k.100.51.198.bl.test
    api POST /v1/listings "{\"prefix\":\"$ip\",\"comment\":\"bench\"}" >/dev/null
    for _ in $(seq 100); do [ "$(sweep "$q")" = "$N" ] && break; sleep 0.05; done
    serial_before=$(curl -sf "http://127.0.0.1:$HTTP/v1/status" | jq -r .serial)
    decided=$(api DELETE "/v1/listings/$ip?reason=technical-error" | jq -r .decided_at_ms)
    for _ in $(seq 100); do [ "$(sweep "$q")" = 0 ] && break; sleep 0.05; done
    left=$(sweep "$q")
    [ "$left" = 0 ] || echo "delisting $k: $left mirrors still answer"
    target=$((serial_before + 1))
    for i in $(seq "$N"); do
        ts=$(grep "event=sync_applied feed=main type=delta serial=$target " "$T/m$i.log" | head -1 |
            sed 's/^ts=\([^ ]*\)Z.*/\1/')
        [ -n "$ts" ] || { echo "m$i: serial $target not applied"; continue; }
        echo $(( $(date -d "${ts}Z" +%s%3N) - decided ))
    done >>"$T/lat"
done
sort -n "$T/lat" >"$T/lat.s"
n=$(wc -l <"$T/lat.s")
p() { awk -v n="$n" -v q="$1" 'NR == int((n - 1) * q + 1.5) { print }' "$T/lat.s"; }
echo "decision to applied (and answering NXDOMAIN) on $N mirrors x $K delistings: samples=$n" \
    "p50_ms=$(p 0.5) p99_ms=$(p 0.99) max_ms=$(tail -1 "$T/lat.s")"
echo "master peak RSS: $(grep VmHWM /proc/${PIDS[0]}/status | awk '{print $2/1024 " MiB"}')"
