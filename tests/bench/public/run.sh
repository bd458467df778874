#!/bin/bash
# SPDX-License-Identifier: MIT
# Public page benchmark (not a ctest): lookup rate and latency (HTML pages and JSON) with wrk, and
# the public threads' CPU a lookup at LOAD_RATE without ingestion, and report ingestion through
# the admin API with and without about 10,000 lookups/s, measured in the same run, in alternating
# rounds (the machine's other load drifts: a ratio of neighbours holds).
# wrk's connections come from many loopback addresses (127.10.x.y, an LD_PRELOAD shim built here),
# so the server sees many clients, as on the Internet; its rate limits are set out of the way.
# Usage: BL_BUILD=build-dir run.sh    LISTINGS (100000) in the store; DUR (10) s per wrk run;
#   CONN (64) wrk connections; LOAD_RATE (11000) lookups/s asked for during ingestion, over
#   BG_CONN (120) connections (about 10,000-10,700 come: the wait between requests ignores their
#   latency); ROUNDS (5) ingestion runs under lookups, each between two runs without, of REQS
#   (1500) requests of 100 reports;
#   BG_NICE (unset) runs that wrk at this nice level: on a small machine the load tool competes
#   with the report client for the same cores, which the remote clients of a real page do not.
#   FEEDS (1): 2 adds a second feed ([master] feeds, its store filled alike), so that every
#   lookup reads both stores (ROUNDS=0 measures the lookups alone).
. "$(dirname "$0")/../../lib.sh"
if ! command -v wrk >/dev/null; then
    [ "$(id -u)" = 0 ] && apt-get install -y wrk >/dev/null 2>&1 || true
    command -v wrk >/dev/null || { echo "SKIP: wrk is not installed (apt-get install wrk)"; exit 77; }
fi
LISTINGS=${LISTINGS:-100000}
DUR=${DUR:-10}
CONN=${CONN:-64}
LOAD_RATE=${LOAD_RATE:-11000}
BG_CONN=${BG_CONN:-120}
ROUNDS=${ROUNDS:-5}
REQS=${REQS:-1500}
FILL=$B/tests/master/master_bench_fill
LUA=$(dirname "$0")/lookup.lua
SHIM=$B/tests/bench/public/libbench_srcaddr.so
cmake --build "$B" --target bench_srcaddr >/dev/null 2>&1 || true
if [ -f "$SHIM" ]; then
    WRK=(env LD_PRELOAD="$SHIM" BENCH_SRC_NET=10 wrk)
    FROM="from 127.10.0.0/16, one address per connection"
else
    WRK=(wrk)
    FROM="from 127.0.0.1 (the source address shim did not build)"
fi
# The real clock (no test clock: reading it costs a file read per call, which would be measured).
NOW=$(date +%s)
alloc_port PUB_PORT
PUB_URL=http://127.0.0.1:$PUB_PORT
write_master_conf "master|verify_digest_on_start = no" "http|threads = 2" \
    "publisher|delay = 20ms" "publisher|max_delay = 200ms" "publisher|snapshot_every = 0" \
    "policy|expire_interval = 100ms" "public|listen = 127.0.0.1:$PUB_PORT" "public|threads = 2" \
    "public|lookup_rate = 100000000" "public|lookup_burst = 100000000" \
    "public|max_connections = 4096" "public|max_connections_per_address = 1024"
"$FILL" "$T/master.db" "$LISTINGS" $((NOW + 86400)) >/dev/null || fail fill
if [ "${FEEDS:-1}" = 2 ]; then
    printf '[master]\nfeed = spamtrap\ndb = %s\n' "$T/spamtrap.db" >"$T/spamtrap.conf"
    ini_set "$T/master.conf" "master|feeds = $T/spamtrap.conf"
    "$FILL" "$T/spamtrap.db" "$LISTINGS" $((NOW + 86400)) spamtrap >/dev/null || fail fill
fi
start_master
curl -sf "$PUB_URL/api/lookup/20.0.0.1" | jq -e .listed >/dev/null || fail "20.0.0.1 not listed"
curl -sf "$PUB_URL/api/lookup/30.0.0.1" | jq -e '.listed == false' >/dev/null ||
    fail "30.0.0.1 listed"

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
echo "# ${FEEDS:-1} feed(s) of $LISTINGS listings each; lookups half listed, half not; wrk $FROM"

# requests/s ("Requests/sec: 1234.56"), p99 from --latency ("99%   12.34ms"), non-2xx answers,
# requests ("123456 requests in 10.00s").
wrk_figures() { # FILE
    awk '/^Requests\/sec/ { r = int($2) } $1 == "99%" { p = $2 } /Non-2xx/ { n = $NF }
         / requests in / { q = $1 } END { printf "%d %s %d %d\n", r, p, n, q }' "$1"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${PID[master]}/stat"; } # the master's user + system
# The public threads' user + system alone: they run at nice 10 (public.c), every other thread at 0.
pub_ticks() { cat "/proc/${PID[master]}"/task/*/stat 2>/dev/null | awk '$19 == 10 { s += $14 + $15 } END { print s + 0 }'; }
lookups() { scrape master | awk '$1 ~ /^blsync_master_public_lookups_total/ { s += $2 } END { print s + 0 }'; }
wrk_run() { # MODE CONN DURATION: figures, then the master's CPU microseconds per request
    local c0
    c0=$(cpu_ticks)
    "${WRK[@]}" -t2 -c"$2" -d"$3"s --latency -s "$LUA" "$PUB_URL" -- "$1" "$LISTINGS" 0 \
        >"$T/wrk.$1" 2>&1
    read -r rps p99 bad n < <(wrk_figures "$T/wrk.$1")
    echo "$rps $p99 $bad $((($(cpu_ticks) - c0) * 1000000 / $(getconf CLK_TCK) / (n ? n : 1)))"
}
read -r rps p99 bad us < <(wrk_run html "$CONN" "$DUR")
echo "lookup pages (GET /?ip=): $rps pages/s, p99 $p99, non-2xx $bad ($CONN connections, $DUR s;" \
    "master CPU $us us a page)"
read -r rps p99 bad us < <(wrk_run json "$CONN" "$DUR")
echo "lookup JSON (GET /api/lookup/IP): $rps lookups/s, p99 $p99, non-2xx $bad (master CPU $us us" \
    "a lookup)"

# The keep-alive report load of tests/bench/master (8 clients, 100 per request, the same reports
# every run), every report dated NOW: a listed address's report extends its listing to NOW + 24 h,
# where the fill put it. Two warm-up runs list every address the runs report (a second report
# reaches the threshold), so the measured runs store reports and extend listings alike, without
# a publishing backlog that grows from run to run. After each run the master publishes what it
# changed before the next run starts.
ingest() {
    python3 "$S/tests/bench/master/load.py" "$HTTP_PORT" "$TOK" "$REQS" 100 8 "$LISTINGS" "$NOW" |
        sed -n 's/.*: \([0-9]*\) reports\/s.*/\1/p'
    wait_until 120 published_all || true
}
# About LOAD_RATE lookups/s: BG_CONN connections, each waiting BG_CONN * 1000 / LOAD_RATE - 1 ms
# after an answer (wrk has no rate option; about a millisecond of latency adds to the wait).
bg_up() { [ "$(ss -Htn state established "( dport = :$PUB_PORT )" | wc -l)" -ge "$BG_CONN" ]; }
# wrk at about LOAD_RATE lookups/s for DURATION s into FILE, in the background, its connections up.
bg_start() { # DURATION FILE
    ${BG_NICE:+nice -n "$BG_NICE"} "${WRK[@]}" -t2 -c"$BG_CONN" -d"$1"s --latency -s "$LUA" "$PUB_URL" -- json "$LISTINGS" \
        $((BG_CONN * 1000 / LOAD_RATE - 1)) >"$2" 2>&1 &
    track wrk $!
    wait_until 10 bg_up || true
}
# The public threads' CPU microseconds a lookup since the readings P0 (pub_ticks) and N0 (lookups).
pub_us() { # P0 N0
    local n=$(($(lookups) - $2))
    echo $((($(pub_ticks) - $1) * 1000000 / $(getconf CLK_TCK) / (n ? n : 1)))
}
loaded() {
    # wrk's connections up before the ingestion starts (a benchmark, not a test)
    bg_start 600 "$T/wrk.bg"
    sleep 1
    local p0 n0
    p0=$(pub_ticks) n0=$(lookups)
    ingest
    # the public threads' CPU a lookup while reports are ingested
    pub_us "$p0" "$n0" >"$T/bg.us"
    stop wrk INT
}
# The same lookup load without ingestion: the public threads' CPU a lookup at this rate, set
# against the figure under ingestion in the rounds below.
idle_loaded() {
    bg_start "$DUR" "$T/wrk.idle"
    local p0 n0
    p0=$(pub_ticks) n0=$(lookups)
    await wrk $((DUR + 30))
    read -r bg bgp99 bgbad _ < <(wrk_figures "$T/wrk.idle")
    echo "lookups alone: $bg lookups/s (p99 $bgp99, non-2xx $bgbad; public threads $(pub_us "$p0" "$n0")" \
        "us a lookup)"
}
if [ "$ROUNDS" -gt 0 ]; then
    idle_loaded
    ingest >/dev/null # warm-up, twice (see ingest)
    ingest >/dev/null
    ratios=()
    # Every run stores more reports, so the rate drifts down from run to run: each run under
    # lookups is set against the mean of the runs without just before and just after it.
    before=$(ingest)
    [ "${before:-0}" -gt 0 ] || fail "an ingestion run failed"
    for r in $(seq "$ROUNDS"); do
        with=$(loaded)
        after=$(ingest)
        [ "${with:-0}" -gt 0 ] && [ "${after:-0}" -gt 0 ] || fail "an ingestion run failed"
        read -r bg bgp99 bgbad _ < <(wrk_figures "$T/wrk.bg")
        ratio=$((with * 200 / (before + after)))
        ratios+=("$ratio")
        echo "round $r: ingestion $with reports/s with $bg lookups/s (p99 $bgp99, non-2xx $bgbad;" \
            "public threads $(cat "$T/bg.us") us a lookup), $before and $after without: $ratio%"
        before=$after
    done
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    echo "report ingestion under lookups: median $median% of the rate without (rounds: ${ratios[*]})"
fi
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
finish
