#!/bin/bash
# SPDX-License-Identifier: MIT
# File-descriptor exhaustion (issue 14, point 1). First the issue's attack as reported: the
# master under ulimit -n 1024, 1,100 plain TCP connections held on the sync port from 100
# addresses, reopened as soon as closed, for 5 s. Then the master limited to 96 descriptors:
# 1,000 such connections held for 4 s against the sync port, the API and /metrics in turn, then
# against all three at once (more than the process may open). Each listener holds at most a
# quarter of the descriptors; the API, /metrics and the mirrors are served throughout the single
# floods; after the combined one the master recovers by itself, and it answers SIGTERM in the
# middle of one.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/attack.sh"
attack_master_conf 'http|request_timeout = 2s' 'http|idle_timeout = 1s' \
    'sync|handshake_timeout = 2s'
attack() { # PORT SECONDS CONNS [SOURCES]
    flood hold --port "$1" --conns "$3" --sources "${4:-127.0.0.2-127.0.0.101}" --seconds "$2" \
        --reopen
}
# check_single TARGET CAP NOFILE N: the bounds of one flood watched by `watch`, and a report
# (192.0.2.N) listed during it and removed after it.
check_single() {
    [ "$FAILED" = 0 ] || problem "$1 flood: /v1/health unanswered $FAILED times:$FAIL_HOW"
    [ "$MAX_HS" -le "$2" ] || problem "$1 flood: $MAX_HS handshakes, bound $2"
    # Connections being shut down stay open until libmicrohttpd closes them: 1/8 more at most.
    [ "$MAX_API" -le $(($2 + $2 / 8)) ] || problem "$1 flood: $MAX_API API connections, bound $2"
    [ "$MAX_FD" -lt "$3" ] || problem "$1 flood: $MAX_FD descriptors: out of them"
    delist_within "192.0.2.$4" 2 &&
        pass "$1 flood: fds <= $MAX_FD of $3, handshakes <= $MAX_HS, API connections <= $MAX_API, /v1/health every time (<= $SLOW ms), a report listed; delisting on both mirrors $DELIST_MS ms after"
}

echo "== the issue's attack: ulimit -n 1024, 1100 connections held on the sync port"
setup 1024
fd0=$(fds master) log0=$(log_lines)
attack "$SYNC_PORT" 5 1100
watch 3
legit_report 192.0.2.9 || true
flood_wait
t_end=$(now_ms)
check_single "sync (ulimit 1024, 1100 connections)" 256 1024 9
wait_until 5 health || problem "/v1/health unanswered after the attack"
echo "after: /v1/health in $HEALTH_MS ms, $(($(now_ms) - t_end)) ms after the attack; descriptors $fd0 before, $(fds master) now; CPU $(idle_cpu 1)% over 1 s; log +$(($(log_lines) - log0)) lines"
stop_master

NOFILE=96
CAP=$((NOFILE / 4))
WRAP[master]="prlimit --nofile=$NOFILE:$NOFILE"
start_master
wait_until 10 _mirrors_connected || fail "the mirrors did not reconnect"
fd0=$(fds master) rss0=$(rss_kb master) log0=$(log_bytes) lines0=$(log_lines)
echo "master: $fd0 descriptors open of $NOFILE, each listener bounded at $CAP"
# The API's flood comes from 16 addresses, fewer than its 24 places: at the limit a newcomer
# evicts the oldest connection of the address holding the most, never the legitimate client's
# one. From more addresses than places, that client's connection is as likely a victim as any.
n=10
for target in sync api metrics; do
    src=
    case $target in
    sync) port=$SYNC_PORT ;;
    api) port=$HTTP_PORT src=127.0.0.2-127.0.0.17 ;;
    metrics) port=$MMET_PORT ;;
    esac
    attack "$port" 4 1000 "$src"
    watch 2
    n=$((n + 1))
    legit_report "192.0.2.$n" || true
    flood_wait
    check_single "$target" "$CAP" "$NOFILE" "$n" || true
done
for r in too_many_handshakes handshake_timeout; do
    wait_until 10 sync_refused_at_least $r 1 || problem "sync refusal $r not counted"
done
for l in api metrics; do
    wait_until 10 refused_at_least $l evicted 1 || problem "no $l connection counted as evicted"
done

# flood_all / flood_all_wait: 500 connections on each listener at once, for 5 s.
flood_all() {
    local port
    for port in "$SYNC_PORT" "$HTTP_PORT" "$MMET_PORT"; do
        "$PY" "$FLOOD" hold --port "$port" --conns 500 --sources 127.0.0.2-127.0.0.101 \
            --seconds 5 --reopen >>"$T/flood-all.json" 2>&1 &
        track "flood$port" $!
    done
}
flood_all_wait() {
    local port
    for port in "$SYNC_PORT" "$HTTP_PORT" "$MMET_PORT"; do await "flood$port" 60; done
}
exhausted() { [ "$(fds master)" -ge $((NOFILE - 2)) ]; }

echo "== all three listeners at once: more connections than descriptors"
flood_all
wait_until 4 exhausted || problem "the combined flood did not exhaust the descriptors"
watch 3
flood_all_wait
t_end=$(now_ms)
echo "during: fds <= $MAX_FD of $NOFILE, /v1/health unanswered $FAILED times, slowest $SLOW ms"
wait_until 10 health || fail "the API did not come back after the attack"
t_api=$(($(now_ms) - t_end))
fds_back() { [ "$(fds master)" -le $((fd0 + 4)) ]; }
wait_until 10 fds_back || problem "descriptors did not come back: $(fds master) (from $fd0)"
t_fd=$(($(now_ms) - t_end))
legit_report 192.0.2.50 || true
delist_within 192.0.2.50 2 &&
    pass "recovered: API after $t_api ms, descriptors back to $(fds master) after $t_fd ms; a report listed, its delisting on both mirrors in $DELIST_MS ms"
cpu=$(idle_cpu 2)
[ "$cpu" -le 20 ] || problem "the master used $cpu% CPU for 2 s after the attack: a busy loop"
echo "CPU after the attack: $cpu% over 2 s"
sync_refused_at_least fd_exhausted 1 || problem "the sync listener never counted fd_exhausted"
echo "the sync listener paused for want of descriptors $(grep -c 'event=tls_accept_paused' "$T/master.log") times (fd_exhausted=$(sync_refused fd_exhausted))"

rss1=$(rss_kb master) log1=$(log_bytes)
[ $((rss1 - rss0)) -le "$RSS_SLACK_KB" ] || problem "RSS grew by $((rss1 - rss0)) kB"
[ $((log1 - log0)) -le 300000 ] || problem "the log grew by $((log1 - log0)) bytes"
pass "RSS $rss0 -> $rss1 kB, log +$((log1 - log0)) bytes, $(($(log_lines) - lines0)) lines over every flood"

echo "== SIGTERM in the middle of a flood of all three"
flood_all
wait_until 5 exhausted || problem "the flood did not exhaust the descriptors again"
t0=$(now_ms)
stop_master
ms=$(($(now_ms) - t0))
[ "$ms" -le $(($(scaled_int 5) * 1000)) ] || problem "the master took $ms ms to stop on SIGTERM (bound $(scaled 5) s)"
pass "the master, out of descriptors, stopped cleanly $ms ms after SIGTERM"
flood_all_wait
finish
