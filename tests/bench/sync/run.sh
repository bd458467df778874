#!/bin/bash
# SPDX-License-Identifier: MIT
# Sync benchmark (issue 5): N simulated mirrors (real TLS 1.3, real protocol,
# every object verified) on one sync server; per publish, the latency from
# the delta landing in the spool to each mirror holding it verified, and to
# the server receiving the last acknowledgement; the server's peak RSS.
# usage: tests/bench/sync/run.sh [CONNS [PUBLISHES [SNAPSHOT_ENTRIES]]]   (default 1000 20 100000)
set -eu
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
B=${BL_BENCH_BUILD:-$SRC/build-bench}
N=${1:-1000}
P=${2:-20}
E=${3:-100000}
cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$B" -j"$(nproc)" --target sync_load sync_master blsyncctl >/dev/null
T=$(mktemp -d /tmp/bl_bench_sync.XXXXXX)
PORT=$((30000 + $$ % 4900))
SPID=
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
ulimit -n $((N * 2 + 256)) 2>/dev/null || true
"$B/master/blsyncctl" keygen --out "$T" --name sign >/dev/null
"$B/master/blsyncctl" certs --dir "$T/pki" --master-name master.test --mirror bench >/dev/null
"$B/tests/bench/sync/sync_load" prepare --spool "$T/spool" --key "$T/sign.key" --entries "$E"
"$B/tests/sync/sync_master" --spool "$T/spool" --key "$T/sign.key" --cert "$T/pki/master.pem" \
    --tls-key "$T/pki/master.key" --ca "$T/pki/ca.pem" --port "$PORT" --poll-ms 10 \
    --hb-ms 5000 --log-level warn >"$T/acks" 2>"$T/sync.log" &
SPID=$!
for _ in $(seq 100); do grep -q listening "$T/acks" && break; sleep 0.05; done
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "# $N simulated mirrors, $P publishes of one delta each, snapshot of $E entries in the spool"
"$B/tests/bench/sync/sync_load" run --spool "$T/spool" --key "$T/sign.key" \
    --cert "$T/pki/mirror-bench.pem" --tls-key "$T/pki/mirror-bench.key" --ca "$T/pki/ca.pem" \
    --port "$PORT" --conns "$N" --publishes "$P" --interval-ms 200 | tee "$T/load.out"
sleep 0.5
# Publish time of each serial = its spool file's mtime; last ack = the server's last ack line.
for f in "$T"/spool/main/*.delta; do
    s=$(basename "$f" .delta | sed 's/^0*//')
    pub=$(stat -c %.3Y "$f" | tr -d .)
    last=$(awk -v s="$s" '$1 == "ack" && $4 == s { if ($5 > m) m = $5; n++ } END { print m, n }' "$T/acks")
    echo "$s $pub $last"
done | awk '{ d = $3 - $2; print d; if ($4 + 0 > 0) n++ }' | sort -n >"$T/ack_lat"
cnt=$(wc -l <"$T/ack_lat")
p50=$(awk -v n="$cnt" 'NR == int((n - 1) * 0.5 + 1.5) { print }' "$T/ack_lat")
p99=$(awk -v n="$cnt" 'NR == int((n - 1) * 0.99 + 1.5) { print }' "$T/ack_lat")
echo "publish-to-last-ack over $cnt publishes: p50_ms=$p50 p99_ms=$p99 max_ms=$(tail -1 "$T/ack_lat")"
echo "sync server peak RSS: $(grep VmHWM /proc/$SPID/status | awk '{print $2/1024 " MiB"}')"
