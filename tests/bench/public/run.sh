#!/bin/bash
# SPDX-License-Identifier: MIT
# Public page benchmark (not a ctest): lookup rate and latency (HTML pages and JSON) with wrk,
# and report ingestion through the admin API with and without about 10,000 lookups/s.
# Usage: BL_BUILD=build-dir run.sh    LISTINGS (100000) in the store; DUR (10) s per wrk run;
#   CONN (32) wrk connections; LOAD_RATE (10000) lookups/s during the ingestion run.
. "$(dirname "$0")/../../lib.sh"
command -v wrk >/dev/null || { echo "SKIP: wrk is not installed (apt-get install wrk)"; exit 77; }
LISTINGS=${LISTINGS:-100000}
DUR=${DUR:-10}
CONN=${CONN:-32}
LOAD_RATE=${LOAD_RATE:-10000}
FILL=$B/tests/master/master_bench_fill
LUA=$(dirname "$0")/lookup.lua
setclock $T0
alloc_port PUB_PORT
PUB_URL=http://127.0.0.1:$PUB_PORT
write_master_conf "master|verify_digest_on_start = no" "http|threads = 2" \
    "publisher|delay = 20ms" "publisher|max_delay = 200ms" "publisher|snapshot_every = 0" \
    "policy|expire_interval = 100ms" "public|listen = 127.0.0.1:$PUB_PORT" "public|threads = 2" \
    "public|lookup_rate = 100000000" "public|lookup_burst = 100000000" \
    "public|max_connections = 1024" "public|max_connections_per_address = 1024"
"$FILL" "$T/master.db" "$LISTINGS" $((T0 / 1000 + 86400)) >/dev/null || fail fill
start_master
curl -sf "$PUB_URL/api/lookup/20.0.0.1" | jq -e .listed >/dev/null || fail "20.0.0.1 not listed"

# p99 from wrk --latency ("99%   12.34ms"), requests/s ("Requests/sec: 1234.56").
wrk_run() { # MODE CONN DURATION DELAY_MS
    wrk -t2 -c"$2" -d"$3"s --latency -s "$LUA" "$PUB_URL" -- "$1" "$LISTINGS" "$4" >"$T/wrk.$1" 2>&1
    local rps p99 non2xx
    rps=$(awk '/^Requests\/sec/ { printf "%d", $2 }' "$T/wrk.$1")
    p99=$(awk '$1 == "99%" { print $2 }' "$T/wrk.$1")
    non2xx=$(awk '/Non-2xx/ { print $NF }' "$T/wrk.$1")
    echo "$rps $p99 ${non2xx:-0}"
}
read -r rps p99 bad < <(wrk_run html "$CONN" "$DUR" 0)
echo "lookup pages (GET /?ip=): $rps pages/s, p99 $p99, non-2xx $bad ($CONN connections, $DUR s, $LISTINGS listings)"
read -r rps p99 bad < <(wrk_run json "$CONN" "$DUR" 0)
echo "lookup JSON (GET /api/lookup/IP): $rps lookups/s, p99 $p99, non-2xx $bad"

ingest() { # the keep-alive report load of tests/bench/master (8 clients, 100 per request)
    python3 "$S/tests/bench/master/load.py" "$HTTP_PORT" "$TOK" "${REQS:-600}" 100 8 "$LISTINGS" \
        $((T0 / 1000)) | sed -n 's/.*: \([0-9]*\) reports\/s.*/\1/p'
}
base=$(ingest)
echo "report ingestion without lookups: $base reports/s"
# About LOAD_RATE lookups/s: 50 connections, each waiting 50000/LOAD_RATE ms between requests.
delay=$((50000 / LOAD_RATE))
wrk -t1 -c50 -d600s --latency -s "$LUA" "$PUB_URL" -- json "$LISTINGS" "$delay" >"$T/wrk.bg" 2>&1 &
WRK=$!
track wrk $WRK
sleep 2 # wrk's connections up before the ingestion starts (a benchmark, not a test)
loaded=$(ingest)
stop wrk INT
bg=$(awk '/^Requests\/sec/ { printf "%d", $2 }' "$T/wrk.bg")
bgp99=$(awk '$1 == "99%" { print $2 }' "$T/wrk.bg")
echo "report ingestion with $bg lookups/s (target $LOAD_RATE, p99 $bgp99): $loaded reports/s ($((loaded * 100 / base))% of the rate without lookups)"
finish
