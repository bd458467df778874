#!/bin/bash
# SPDX-License-Identifier: MIT
# Bootstrap benchmark: a new mirror fetches a snapshot of N entries
# (default 10,000,000) over loopback TLS from the sync server; measured from
# the mirror's start to its first positive DNS answer (dig).
# usage: tests/bench/sync/bootstrap.sh [ENTRIES]
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BL_BUILD=${BL_BENCH_BUILD:-$SRC/build-bench}
E=${1:-10000000}
cmake -S "$SRC" -B "$BL_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BL_BUILD" -j"$(nproc)" --target sync_load sync_master blsync-mirror blsyncctl >/dev/null
. "$SRC/tests/lib.sh"
pki m1
out=$("$B/tests/bench/sync/sync_load" prepare --spool "$T/spool" --key "$T/sign.key" --entries "$E")
echo "$out"
ip=$(echo "$out" | sed 's/.*listed=//')
"$B/tests/sync/sync_master" --spool "$T/spool" --key "$T/sign.key" --cert "$T/pki/master.pem" \
    --tls-key "$T/pki/master.key" --ca "$T/pki/ca.pem" --port 0 --log-level warn \
    >"$T/acks" 2>"$T/sync.log" &
track sync $!
SYNC_PORT=$(port_from "$T/acks") # the sync server stands in for the master
write_mirror_conf m1 "server|-metrics_listen"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
t0=$(date +%s%N)
spawn m1 "$MIRROR" -c "$T/m1/mirror.conf"
wait_up m1 120 is_answer m1 "$ip" 127.0.0.2
t1=$(date +%s%N)
echo "bootstrap of $E entries: $(((t1 - t0) / 1000000)) ms from mirror start to a positive answer"
grep -m 1 -o "event=sync_applied.*" "$T/m1.log"
echo "mirror peak RSS: $(grep VmHWM "/proc/${PID[m1]}/status" | awk '{print $2/1024 " MiB"}')"
