#!/bin/bash
# SPDX-License-Identifier: MIT
# File-descriptor exhaustion, with the master limited to 96 descriptors (ulimit -n): 1,000 plain
# TCP connections from 100 addresses, reopened as soon as closed, held for 4 s against the sync
# port, the API and /metrics in turn, then against all three at once (more than the process may
# open). Each listener holds at most a quarter of the descriptors; the API, /metrics and the
# mirrors are served throughout the single floods; after the combined one the master recovers by
# itself, and it answers SIGTERM in the middle of one.
. "$(dirname "$0")/common.sh"
NOFILE=96
CAP=$((NOFILE / 4))
write_master_conf "[http] request_timeout = 2s" "[http] idle_timeout = 1s" \
    "[sync] handshake_timeout = 2s"
setup $NOFILE
fd0=$(fds) rss0=$(rss_kb) log0=$(log_bytes)
echo "master: $fd0 descriptors open of $NOFILE, each listener bounded at $CAP"
attack() { # PORT SECONDS [CONNS]
    flood hold --port "$1" --conns "${3:-1000}" --sources 127.0.0.2-127.0.0.101 --seconds "$2" \
        --reopen
}
# watch SECONDS: samples the master for SECONDS; MAX_FD (sampled every 20 ms on the side),
# MAX_HS, MAX_API and SLOW (the slowest /v1/health, ms) keep the worst seen, FAILED counts
# unanswered health checks.
watch() {
    local end=$(($(now_ms) + $1 * 1000)) t0 v
    MAX_HS=0 MAX_API=0 SLOW=0 FAILED=0
    (while [ "$(now_ms)" -lt "$end" ]; do fds; sleep 0.02; done) >"$T/fds" &
    local sampler=$!
    while [ "$(now_ms)" -lt "$end" ]; do
        t0=$(now_ms)
        health || FAILED=$((FAILED + 1))
        [ $(($(now_ms) - t0)) -gt "$SLOW" ] && SLOW=$(($(now_ms) - t0))
        # At most 1 s: the metrics listener may be what is flooded.
        curl -s --max-time "$(scaled 1)" "http://127.0.0.1:$MMET_PORT/metrics" >"$T/scrape"
        v=$(awk '$1 == "blsync_master_sync_handshakes" {print $2}' "$T/scrape")
        [ "${v:-0}" -gt "$MAX_HS" ] && MAX_HS=$v
        v=$(awk '$1 == "blsync_http_connections{listener=\"api\"}" {print $2}' "$T/scrape")
        [ "${v:-0}" -gt "$MAX_API" ] && MAX_API=$v
        sleep 0.1
    done
    wait "$sampler"
    MAX_FD=$(sort -n "$T/fds" | tail -1)
}

n=10
for target in sync api metrics; do
    case $target in
    sync) port=$SYNC_PORT ;;
    api) port=$HTTP_PORT ;;
    metrics) port=$MMET_PORT ;;
    esac
    attack "$port" 4
    watch 2
    n=$((n + 1))
    legit_report "192.0.2.$n" || true
    flood_wait
    [ "$FAILED" = 0 ] || problem "$target flood: /v1/health unanswered $FAILED times"
    [ "$MAX_HS" -le "$CAP" ] || problem "$target flood: $MAX_HS handshakes, bound $CAP"
    # Connections being shut down stay open until libmicrohttpd closes them: 1/8 more at most.
    [ "$MAX_API" -le $((CAP + 3)) ] || problem "$target flood: $MAX_API API connections, bound $CAP"
    [ "$MAX_FD" -lt "$NOFILE" ] || problem "$target flood: $MAX_FD descriptors: out of them"
    ms=$(delist_within "192.0.2.$n" 2) &&
        pass "$target flood: fds <= $MAX_FD of $NOFILE, handshakes <= $MAX_HS, API connections <= $MAX_API, /v1/health every time (<= $SLOW ms), a report listed; delisting on both mirrors $ms ms after"
done
for r in too_many_handshakes handshake_timeout; do
    [ "$(metric "blsync_master_sync_refused_total{stage=\"connection\",reason=\"$r\"}")" -ge 1 ] ||
        problem "sync refusal $r not counted"
done
for l in api metrics; do
    [ "$(metric "blsync_http_refused_total{listener=\"$l\",reason=\"evicted\"}")" -ge 1 ] ||
        problem "no $l connection counted as evicted"
done

# flood_all / flood_all_wait: 500 connections on each listener at once, for 5 s.
flood_all() {
    local port
    for port in "$SYNC_PORT" "$HTTP_PORT" "$MMET_PORT"; do
        "$PY" "$FLOOD" hold --port "$port" --conns 500 --sources 127.0.0.2-127.0.0.101 \
            --seconds 5 --reopen >>"$T/flood-all.json" 2>&1 &
        PID[flood$port]=$!
    done
}
flood_all_wait() {
    local port
    for port in "$SYNC_PORT" "$HTTP_PORT" "$MMET_PORT"; do
        wait "${PID[flood$port]}"
        unset "PID[flood$port]"
    done
}

echo "== all three listeners at once: more connections than descriptors"
flood_all
watch 4
flood_all_wait
t_end=$(now_ms)
echo "during: fds <= $MAX_FD of $NOFILE, /v1/health unanswered $FAILED times, slowest $SLOW ms"
[ "$MAX_FD" -ge $((NOFILE - 2)) ] || problem "the combined flood did not exhaust the descriptors"
wait_until 10 health || fail "the API did not come back after the attack"
t_api=$(($(now_ms) - t_end))
wait_until 10 bash -c "[ \$(ls /proc/${PID[master]}/fd | wc -l) -le $((fd0 + 4)) ]" ||
    problem "descriptors did not come back: $(fds) (from $fd0)"
t_fd=$(($(now_ms) - t_end))
legit_report 192.0.2.50 || true
ms=$(delist_within 192.0.2.50 2) &&
    pass "recovered: API after $t_api ms, descriptors back to $(fds) after $t_fd ms; a report listed, its delisting on both mirrors in $ms ms"
cpu=$(idle_cpu 2)
[ "$cpu" -le 20 ] || problem "the master used $cpu% CPU for 2 s after the attack: a busy loop"
echo "CPU after the attack: $cpu% over 2 s"
exhausted=$(metric 'blsync_master_sync_refused_total{stage="connection",reason="fd_exhausted"}')
[ "${exhausted:-0}" -ge 1 ] || problem "the sync listener never counted fd_exhausted"
echo "the sync listener paused for want of descriptors $(grep -c 'event=tls_accept_paused' "$T/master.log") times (fd_exhausted=$exhausted)"

rss1=$(rss_kb) log1=$(log_bytes)
[ $((rss1 - rss0)) -le $((64 * 1024 * SCALE)) ] || problem "RSS grew by $((rss1 - rss0)) kB"
[ $((log1 - log0)) -le 300000 ] || problem "the log grew by $((log1 - log0)) bytes"
pass "RSS $rss0 -> $rss1 kB, log +$((log1 - log0)) bytes over every flood"

echo "== SIGTERM in the middle of a flood of all three"
flood_all
wait_until 5 bash -c "[ \$(ls /proc/${PID[master]}/fd | wc -l) -ge $((NOFILE - 2)) ]" ||
    problem "the flood did not exhaust the descriptors again"
t0=$(now_ms)
stop_clean master 5
pass "the master, out of descriptors, stopped cleanly $(($(now_ms) - t0)) ms after SIGTERM"
flood_all_wait
finish
