#!/bin/bash
# SPDX-License-Identifier: MIT
# Master benchmarks (not a ctest): ingestion through the HTTP API with a big store, publish
# latency of a 10,000-change delta, expiring 1,000,000 listings at once.
# Usage: BL_BUILD=build-dir run.sh [ingest|publish|expire|all]
#   LISTINGS (10000000) listings in the store for ingest; REQS (100) x BATCH (2000) reports;
#   CONC (4) concurrent clients; EXPIRE_N (1000000).
. "$(dirname "$0")/../../lib.sh"
WHAT=${1:-all}
LISTINGS=${LISTINGS:-10000000}
REQS=${REQS:-100}
BATCH=${BATCH:-2000}
CONC=${CONC:-4}
EXPIRE_N=${EXPIRE_N:-1000000}
FILL=$B/tests/master/master_bench_fill
ms() { date +%s%3N; }
setclock $T0
nfiles() { # without forking: the poll loops must not steal the master's CPU
    local f=("$T"/spool/main/*."$1")
    [ -e "${f[0]}" ] && echo ${#f[@]} || echo 0
}

has_snap() { [ "$(nfiles snap)" -ge 1 ]; }
fresh() { # fresh [INI lines]: new store and spool
    if running master; then stop_master; fi
    rm -rf "$T/master.db"* "$T/spool" "$T/master.log"
    # The delays and expiry interval these benchmarks have always run with.
    write_master_conf "master|verify_digest_on_start = no" "http|threads = 4" "http|max_body = 64M" \
        "publisher|delay = 20ms" "publisher|max_delay = 200ms" "policy|expire_interval = 100ms" \
        "publisher|snapshot_every = 0" "$@"
}

ingest() {
    echo "== ingestion through POST /v1/reports with $LISTINGS listings in the store"
    fresh "policy|threshold = 2"
    t=$(ms)
    "$FILL" "$T/master.db" "$LISTINGS" $((T0 / 1000 + 86400)) >/dev/null || fail fill
    echo "store filled with $LISTINGS listings in $(($(ms) - t)) ms ($(du -sh "$T/master.db" | cut -f1))"
    start_master
    t=$(ms)
    api POST /v1/reports '{"ip":"198.51.100.1","source":"spamtrap"}'
    wait_until 600 has_snap || fail "no snapshot"
    echo "first snapshot of $LISTINGS entries: $(($(ms) - t)) ms, $(du -h "$T"/spool/main/*.snap | cut -f1)"
    python3 - "$T" "$REQS" "$BATCH" "$LISTINGS" "$((T0 / 1000))" <<'PY'
import json, random, sys
w, reqs, batch, listings, t = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
random.seed(1)
for r in range(reqs):
    items = []
    for i in range(batch):
        if random.random() < 0.5:   # an address already listed: extends it
            n = (20 << 24) + random.randrange(listings)
        else:                        # a new address: counted, listed at the threshold
            n = (30 << 24) + random.randrange(1 << 22)
        ip = "%d.%d.%d.%d" % (n >> 24, n >> 16 & 255, n >> 8 & 255, n & 255)
        items.append({"ip": ip, "source": random.choice(["user", "user", "spamtrap"]),
                      "time": t, "evidence": "b%d-%d" % (r, i)})
    open("%s/body%d.json" % (w, r), "w").write(json.dumps(items))
PY
    t=$(ms)
    seq 0 $((REQS - 1)) | xargs -P "$CONC" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
        -H "Authorization: Bearer $TOK" --data-binary @"$T/body{}.json" \
        "$MASTER_URL/v1/reports" >"$T/codes"
    dt=$(($(ms) - t))
    ok=$(grep -c '^200$' "$T/codes" || true)
    [ "$ok" = "$REQS" ] || fail "$((REQS - ok)) requests failed: $(sort "$T/codes" | uniq -c)"
    n=$((REQS * BATCH))
    echo "ingested $n reports in $dt ms: $((n * 1000 / dt)) reports/s ($CONC clients, $BATCH per request)"
    wait_until 60 published_all || fail "not published"
    # The same through keep-alive connections, small requests (client cost out of the way).
    python3 "$(dirname "$0")/load.py" "$HTTP_PORT" "$TOK" 2000 100 8 "$LISTINGS" $((T0 / 1000)) ||
        fail "keep-alive load"
    wait_until 60 published_all || fail "not published"
    master_status -c '{serial,entries,publisher}'
    echo "== publish latency of a 10,000-change delta with $LISTINGS listings in the store"
    publish_latency
}

publish_latency() {
    wait_until 30 published_all || fail "not published"
    python3 - "$T" "$((T0 / 1000))" <<'PY'
import json, sys
w, t = sys.argv[1], int(sys.argv[2])
items = [{"ip": "40.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255), "source": "spamtrap",
          "time": t} for i in range(10000)]
open(w + "/b10k.json", "w").write(json.dumps(items))
PY
    api POST /v1/reports '{"ip":"198.51.100.9","source":"spamtrap"}'   # warm up
    wait_until 10 published_all || fail "not published"
    before=$(nfiles delta)
    # threshold is at most 2 and a spamtrap hit weighs 2: 10,000 new listings in one request.
    curl -s -o "$T/out" -H "Authorization: Bearer $TOK" --data-binary @"$T/b10k.json" \
        "$MASTER_URL/v1/reports"
    t=$(date +%s%N)
    jq -e '.listed == 10000' "$T/out" >/dev/null || fail "not 10,000 listings: $(cat "$T/out")"
    # The measurement: a tight poll (2 ms) for the delta in the spool.
    while [ "$(nfiles delta)" = "$before" ]; do sleep 0.002; done
    dt=$((($(date +%s%N) - t) / 1000000))
    st=$(master_status)
    echo "10,000-change delta: $dt ms from the last change committed to the object in the spool" \
        "(publisher: $(echo "$st" | jq .publisher.last_duration_ms) ms of it; batching delay" \
        "$(grep '^delay' "$T/master.conf" | cut -d= -f2))"
}

expire() {
    echo "== expiring $EXPIRE_N listings at once"
    fresh
    E=$((T0 / 1000 + 3600))
    "$FILL" "$T/master.db" "$EXPIRE_N" $E >/dev/null || fail fill
    setclock $(((E - 10) * 1000))
    start_master
    api POST /v1/reports '{"ip":"198.51.100.1","source":"spamtrap"}'
    api POST /v1/reports '{"ip":"198.51.100.1","source":"spamtrap"}'
    wait_until 120 has_snap || fail "no snapshot"
    wait_until 30 published_all || fail "not published"
    before=$(nfiles delta)
    t=$(date +%s%N)
    setclock $((E * 1000))
    # The measurement: a poll (50 ms) for the delta in the spool.
    while [ "$(nfiles delta)" = "$before" ]; do sleep 0.05; done
    dt=$((($(date +%s%N) - t) / 1000000))
    wait_until 10 published_all || fail "not published"
    master_status -c '{serial,entries}'
    f=$(ls "$T"/spool/main/*.delta | tail -n 1)
    echo "expired $EXPIRE_N listings: $dt ms from the clock passing their expiry to the published" \
        "delta ($(du -h "$f" | cut -f1), publisher $(master_status .publisher.last_duration_ms) ms)"
    grep "event=expired" "$T/master.log" | tail -n 1
    "$CTL" verify "$f" --key "$T/sign.pub" | grep -E "^(removed|entries):" | tr '\n' ' '
    echo
}

case $WHAT in
ingest) ingest ;;
publish) fresh "policy|threshold = 2"; start_master; publish_latency ;;
expire) expire ;;
all) fresh "policy|threshold = 2"; start_master; publish_latency; expire; ingest ;;
esac
if running master; then stop_master; fi
