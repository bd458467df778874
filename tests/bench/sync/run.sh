#!/bin/bash
# SPDX-License-Identifier: MIT
# Sync benchmark: N simulated mirrors (real TLS 1.3, real protocol,
# every object verified) on one sync server; per publish, the latency from
# the delta landing in the spool to each mirror holding it verified, and to
# the server receiving the last acknowledgement; the server's peak RSS.
# usage: tests/bench/sync/run.sh [CONNS [PUBLISHES [SNAPSHOT_ENTRIES]]]   (default 1000 20 100000)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BL_BUILD=${BL_BENCH_BUILD:-$SRC/build-bench}
N=${1:-1000}
P=${2:-20}
E=${3:-100000}
cmake -S "$SRC" -B "$BL_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BL_BUILD" -j"$(nproc)" --target sync_load sync_master blsyncctl >/dev/null
. "$SRC/tests/lib.sh"
ulimit -n $((N * 2 + 256)) 2>/dev/null || true
pki bench
"$B/tests/bench/sync/sync_load" prepare --spool "$T/spool" --key "$T/sign.key" --entries "$E"
"$B/tests/sync/sync_master" --spool "$T/spool" --key "$T/sign.key" --cert "$T/pki/master.pem" \
    --tls-key "$T/pki/master.key" --ca "$T/pki/ca.pem" --port 0 --poll-ms 10 \
    --hb-ms 5000 --log-level warn >"$T/acks" 2>"$T/sync.log" &
track sync $!
PORT=$(port_from "$T/acks")
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "# $N simulated mirrors, $P publishes of one delta each, snapshot of $E entries in the spool"
"$B/tests/bench/sync/sync_load" run --spool "$T/spool" --key "$T/sign.key" \
    --cert "$T/pki/mirror-bench.pem" --tls-key "$T/pki/mirror-bench.key" --ca "$T/pki/ca.pem" \
    --port "$PORT" --conns "$N" --publishes "$P" --interval-ms 200 | tee "$T/load.out"
# The server logs each acknowledgement as it reads it: wait until it has read
# every mirror's for the last serial (or give up after a while: some are missing).
acks_of() { awk -v s="$1" '$1 == "ack" && $4 == s { n++ } END { print n + 0 }' "$T/acks"; }
all_acked() { [ "$(acks_of "$1")" -ge "$N" ]; }
last=$(basename "$(ls "$T"/spool/main/*.delta | tail -n 1)" .delta | sed 's/^0*//')
wait_until 10 all_acked "$last" || echo "# serial $last: only $(acks_of "$last") of $N acknowledgements"
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
echo "publish-to-last-ack over $cnt publishes: p50_ms=$p50 p99_ms=$p99 max_ms=$(tail -n 1 "$T/ack_lat")"
echo "sync server peak RSS: $(grep VmHWM "/proc/${PID[sync]}/status" | awk '{print $2/1024 " MiB"}')"
