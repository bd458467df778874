#!/bin/bash
# SPDX-License-Identifier: MIT
# Pull benchmark (issue 18): N simulated pulling mirrors (pull_sim.py, one
# keep-alive connection each) behind two nginx cache tiers (EDGES tier-2
# nodes in front of one tier-1 node in front of a static origin over the
# master's spool). After a warm-up, P publishes (alternately a listing and a
# delisting of one address), each followed by a whole poll interval; each
# mirror's polls start INTERVAL - 0..JITTER s apart (the real mirror's rule).
# Reports origin requests per publish, the tiers' hit ratios for objects,
# decided -> held by the last mirror (p50/p99/max per publish), and the
# master's and origin's CPU and RSS.
# HEADPASS=1: tier 1 passes heads through uncached (only the edges cache them).
# LONGPOLL=1: the origin is the master's public listener with serve_spool,
# and the simulated mirrors long-poll it through the tiers (origin requests
# and CPU are then the master's).
# usage: [LONGPOLL=1] tests/bench/pull/run.sh [N=5000] [INTERVAL=10] [EDGES=2] [P=4]
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BL_BUILD=${BL_BENCH_BUILD:-$SRC/build}
N=${1:-5000} INTERVAL=${2:-10} EDGES=${3:-2} P=${4:-4} JITTER=2
. "$SRC/tests/lib.sh"
ulimit -n "$(ulimit -Hn)" # one socket per simulated mirror at each tier
LONGPOLL=${LONGPOLL:-0}
alloc_port ORIGIN TIER1
if [ "$LONGPOLL" = 1 ]; then
    write_master_conf 'publisher|http_head_refresh = 5s' 'publisher|http_head_ttl = 60s' \
        'master|log_level = warn' "public|listen = 127.0.0.1:$ORIGIN" 'public|serve_spool = yes'
    start_master
    BASE=/spool
else
    write_master_conf 'publisher|http_head_refresh = 1s' 'publisher|http_head_ttl = 60s' 'master|log_level = warn'
    start_master
    start_nginx origin "$ORIGIN" "
    server { listen 127.0.0.1:$ORIGIN; root $T/spool; etag on;
$(spool_locations)
    }"
    BASE=
fi
export LONGPOLL
NGINX_CONNECTIONS=30000 # one socket per simulated mirror at each tier
start_nginx tier1 "$TIER1" "$(cache_tier tier1 "$TIER1" "$ORIGIN" 1g backlog=8192 "${HEADPASS:+headpass}")"
urls=()
for ((e = 1; e <= EDGES; e++)); do
    alloc_port "EP$e"
    p=$(eval echo "\$EP$e")
    start_nginx "edge$e" "$p" "$(cache_tier "edge$e" "$p" "$TIER1" 1g backlog=8192)"
    urls+=("http://127.0.0.1:$p$BASE")
done
echo "# machine: $(nproc) cores, $(date -u +%F); N=$N mirrors, poll every ${INTERVAL}s-0..${JITTER}s, long poll $LONGPOLL, $EDGES tier-2 nodes, 1 tier-1 node${HEADPASS:+ (heads passed through)}"
spawn sim "$PY" "$S/tests/bench/pull/pull_sim.py" "$N" "$INTERVAL" "$JITTER" "$T/arrivals" "${urls[@]}"
wait_up sim 30 logged sim '^ready'
sleep $((INTERVAL + JITTER + 5)) # warm-up: every mirror holds the initial snapshot
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
lines() { if [ -f "$T/$1/access.log" ]; then wc -l <"$T/$1/access.log"; else echo 0; fi; }
# Requests the master answered on its public listener (the origin with LONGPOLL=1).
spool_reqs() { scrape master | awk '/^blsync_master_spool_requests_total/ { n += $2 } END { print n + 0 }'; }
o0=$(lines origin) t0=$(lines tier1) m0=$(cpu "${PID[master]}") n0=$(cpu "${PID[origin]:-${PID[master]}}") r0=$(spool_reqs)
: >"$T/decided"
for ((k = 1; k <= P; k++)); do
    s=$(master_serial)
    d=$(now_ms)
    if ((k % 2)); then list 192.0.2.77; else delist 192.0.2.77; fi
    s=$(wait_published "$s")
    echo "$s $d $((k % 2 ? 1 : 0)) $(now_ms)" >>"$T/decided"
    sleep $((INTERVAL + JITTER + 2))
done
m1=$(cpu "${PID[master]}") n1=$(cpu "${PID[origin]:-${PID[master]}}") r1=$(spool_reqs)
rss_m=$(awk '/VmHWM/ { print $2 / 1024 }' "/proc/${PID[master]}/status")
stop sim
cat "$T/sim.log" | grep -v '^ready'
if [ "$LONGPOLL" = 1 ]; then
    echo "publishes: $P; origin (master) requests per publish: $(awk -v a="$r0" -v b="$r1" -v p="$P" 'BEGIN { printf "%.1f", (b - a) / p }') ($(scrape master | grep '^blsync_master_spool_requests_total' | tr '\n' ' '))"
else
    echo "publishes: $P; origin requests per publish: $(tail -n +$((o0 + 1)) "$T/origin/access.log" |
        awk -v p="$P" '{ if ($2 ~ /by-hash/) o++; else h++ } END { printf "%.1f (heads %.1f, objects %.1f)", (o + h) / p, h / p, o / p }')"
fi
echo "tier-1 requests per publish: $(tail -n +$((t0 + 1)) "$T/tier1/access.log" | awk -v p="$P" 'END { printf "%.1f", NR / p }')"
for t in tier1 $(for ((e = 1; e <= EDGES; e++)); do echo "edge$e"; done); do
    awk -v t="$t" '$2 ~ /by-hash/ { n++; if ($5 == "HIT") h++ } $2 ~ /head$/ { hn++; if ($5 == "HIT" || $3 == 304) hh++ }
        END { printf "%s: object requests %d, hit ratio %.2f%%; head requests %d, hit or 304 %.1f%%\n", t, n, n ? 100 * h / n : 0, hn, hn ? 100 * hh / hn : 0 }' "$T/$t/access.log"
done
if [ "$LONGPOLL" = 1 ]; then
    echo "master (the origin) CPU during the publishes: $(((m1 - m0) * 10)) ms, peak RSS ${rss_m} MiB; held long polls at the end: $(metric master blsync_master_spool_long_polls)"
else
    echo "master CPU during the publishes: $(((m1 - m0) * 10)) ms, peak RSS ${rss_m} MiB; origin nginx CPU: $(((n1 - n0) * 10)) ms"
fi
# pub_ms: decided -> published (the master's serial, seen by polling its
# API); stale_ms: how long after that the caches still answered a head of
# the previous serial (the last such answer a mirror got).
echo "publish  kind      mirrors  p50_ms  p99_ms  max_ms  pub_ms  stale_ms   (decided at the master -> the head's serial held by the mirror)"
while read -r s d l p; do
    stale=$(awk -v s="$s" -v p="$p" '$2 < s && $1 > p && $1 - p > m { m = $1 - p } END { print m + 0 }' "$T/arrivals.heads")
    awk -v s="$s" -v d="$d" '$1 == s { print $2 - d }' "$T/arrivals" | sort -n |
        awk -v s="$s" -v kind="$([ "$l" = 1 ] && echo listing || echo delisting)" -v pub=$((p - d)) -v stale="$stale" '
            { v[NR] = $1 }
            END { printf "%7d  %-9s %7d  %6d  %6d  %6d  %6d  %8d\n", s, kind, NR, v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1], v[NR], pub, stale }'
done <"$T/decided"
