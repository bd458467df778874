#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Flow control: stuck mirrors (they ask for a large snapshot, then never read)
# must not stall the other mirrors nor grow the server's memory: their queue
# stops at its limit and they are disconnected after --stuck-ms.
. "$(dirname "$0")/../lib.sh"
pki load
"$B/tests/sync/sync_flow_load" prepare --spool "$T/spool" --key "$T/sign.key" --entries 4000000 \
    >"$T/prepare.out"
snap=$(stat -c %s "$T"/spool/main/*.snap)
[ "$snap" -gt 5000000 ] || fail "snapshot too small for the test: $snap bytes"
# A 64 KiB queue and a 128 KiB kernel send buffer per mirror, against a
# snapshot of several MiB.
"$B/tests/sync/sync_master" --spool "$T/spool" --key "$T/sign.key" --cert "$T/pki/master.pem" \
    --tls-key "$T/pki/master.key" --ca "$T/pki/ca.pem" --port 0 --poll-ms 10 \
    --max-queue 65536 --sndbuf 131072 --stuck-ms 2000 --hb-ms 1000 >"$T/acks.out" 2>"$T/sync.log" &
track sync $!
PORT=$(port_from "$T/acks.out")
rss0=$(awk '/VmRSS/ {print $2}' "/proc/${PID[sync]}/status")
"$B/tests/sync/sync_flow_load" run --spool "$T/spool" --key "$T/sign.key" \
    --cert "$T/pki/mirror-load.pem" --tls-key "$T/pki/mirror-load.key" --ca "$T/pki/ca.pem" \
    --port "$PORT" --conns 40 --stuck 10 --publishes 20 --interval-ms 300 --hold-ms 9000 \
    >"$T/load.out" || fail "healthy mirrors missed publishes while others were stuck"
grep -E "overall|stuck" "$T/load.out" | sort | uniq -c
p99=$(awk '/^overall/ { for (i = 1; i <= NF; i++) if ($i ~ /^p99_ms=/) { sub("p99_ms=", "", $i); print $i } }' "$T/load.out")
awk -v p="$p99" 'BEGIN { exit !(p < 1000) }' || fail "healthy mirrors slowed down: p99 ${p99} ms"
n_stuck=$(grep -c "event=sync_mirror_stuck" "$T/sync.log" || true)
[ "$n_stuck" = 10 ] || fail "$n_stuck stuck mirrors disconnected, expected 10"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/${PID[sync]}/status")
# 10 stuck queues of 64 KiB plus TLS buffers: far below 10 copies of the snapshot.
grow=$(((hwm - rss0) * 1024))
if grep -q libasan <<<"$(ldd "$B/tests/sync/sync_master")"; then
    echo "memory bound not checked under AddressSanitizer (quarantine and redzones): grew $grow bytes"
else
    [ "$grow" -lt $((10 * snap / 2)) ] || fail "server memory grew by $grow bytes (snapshot $snap bytes)"
fi
echo "ok: 30 healthy mirrors p99 ${p99} ms with 10 stuck ones; stuck ones disconnected;" \
    "server grew $((grow / 1024)) KiB (snapshot $((snap / 1024)) KiB)"
