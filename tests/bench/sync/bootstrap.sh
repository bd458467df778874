#!/bin/bash
# SPDX-License-Identifier: MIT
# Bootstrap benchmark (issue 5): a new mirror fetches a snapshot of N entries
# (default 10,000,000) over loopback TLS from the sync server; measured from
# the mirror's start to its first positive DNS answer (dig).
# usage: tests/bench/sync/bootstrap.sh [ENTRIES]
set -eu
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
B=${BL_BENCH_BUILD:-$SRC/build-bench}
E=${1:-10000000}
cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$B" -j"$(nproc)" --target sync_load sync_master blsync-mirror blsyncctl >/dev/null
T=$(mktemp -d /tmp/bl_bench_boot.XXXXXX)
PORT=$((30000 + $$ % 4900))
DNS=$((PORT + 1))
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
"$B/master/blsyncctl" keygen --out "$T" --name sign >/dev/null
"$B/master/blsyncctl" certs --dir "$T/pki" --master-name master.test --mirror m1 >/dev/null
out=$("$B/tests/bench/sync/sync_load" prepare --spool "$T/spool" --key "$T/sign.key" --entries "$E")
echo "$out"
ip=$(echo "$out" | sed 's/.*listed=//')
q=$(echo "$ip" | awk -F. '{print $4"."$3"."$2"."$1}').bl.test
"$B/tests/sync/sync_master" --spool "$T/spool" --key "$T/sign.key" --cert "$T/pki/master.pem" \
    --tls-key "$T/pki/master.key" --ca "$T/pki/ca.pem" --port "$PORT" --log-level warn \
    >"$T/acks" 2>"$T/sync.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening "$T/acks" && break; sleep 0.05; done
mkdir -p "$T/m1"
cat >"$T/m1/mirror.ini" <<EOT
[server]
listen = 127.0.0.1:$DNS
threads = 1
[sync]
master = 127.0.0.1:$PORT
server_name = master.test
cert = $T/pki/mirror-m1.pem
key = $T/pki/mirror-m1.key
ca = $T/pki/ca.pem
state_dir = $T/m1/state
[zone bl.test]
feed = main
trusted_key = $T/sign.pub
EOT
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
t0=$(date +%s%N)
"$B/mirror/blsync-mirror" -c "$T/m1/mirror.ini" 2>"$T/m1.log" &
PIDS+=($!)
until [ "$(dig +time=1 +tries=1 +short @127.0.0.1 -p "$DNS" "$q" A 2>/dev/null)" = 127.0.0.2 ]; do
    sleep 0.05
    [ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt 120 ] || { echo "timed out"; tail "$T/m1.log"; exit 1; }
done
t1=$(date +%s%N)
echo "bootstrap of $E entries: $(( (t1 - t0) / 1000000 )) ms from mirror start to a positive answer"
grep -o "event=sync_applied.*" "$T/m1.log" | head -1
echo "mirror peak RSS: $(grep VmHWM /proc/${PIDS[1]}/status | awk '{print $2/1024 " MiB"}')"
