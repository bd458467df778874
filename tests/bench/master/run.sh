#!/bin/bash
# SPDX-License-Identifier: MIT
# Master benchmarks (not a ctest): ingestion through the HTTP API with a big store, publish
# latency of a 10,000-change delta, expiring 1,000,000 listings at once.
# Usage: BL_BUILD=build-dir run.sh [ingest|publish|expire|all]
#   LISTINGS (10000000) listings in the store for ingest; REQS (100) x BATCH (2000) reports;
#   CONC (4) concurrent clients; EXPIRE_N (1000000).
. "$(dirname "$0")/../../master/lib.sh"
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
    local f=("$W"/spool/main/*."$1")
    [ -e "${f[0]}" ] && echo ${#f[@]} || echo 0
}

fresh() { # fresh [INI lines]: new store and spool
    [ -n "$MPID" ] && stop_master
    rm -rf "$W/m.db"* "$W/spool" "$W/log"
    write_conf "master|verify_digest_on_start = no" "http|threads = 4" "http|max_body = 64M" \
        "publisher|snapshot_every = 0" "$@"
}

ingest() {
    echo "== ingestion through POST /v1/reports with $LISTINGS listings in the store"
    fresh "policy|threshold = 2"
    t=$(ms)
    "$FILL" "$W/m.db" "$LISTINGS" $((T0 / 1000 + 86400)) >/dev/null || fail fill
    echo "store filled with $LISTINGS listings in $(($(ms) - t)) ms ($(du -sh "$W/m.db" | cut -f1))"
    start_master
    t=$(ms)
    api POST /v1/reports '{"ip":"198.51.100.1","source":"spamtrap"}'
    wait_for 600 bash -c "[ \$(ls $W/spool/main 2>/dev/null | grep -c snap) -ge 1 ]" || fail "no snapshot"
    echo "first snapshot of $LISTINGS entries: $(($(ms) - t)) ms, $(du -h "$W"/spool/main/*.snap | cut -f1)"
    python3 - "$W" "$REQS" "$BATCH" "$LISTINGS" "$((T0 / 1000))" <<'PY'
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
        -H "Authorization: Bearer $TOK" --data-binary @"$W/body{}.json" \
        "http://127.0.0.1:$PORT/v1/reports" >"$W/codes"
    dt=$(($(ms) - t))
    ok=$(grep -c '^200$' "$W/codes")
    [ "$ok" = "$REQS" ] || fail "$((REQS - ok)) requests failed: $(sort "$W/codes" | uniq -c)"
    n=$((REQS * BATCH))
    echo "ingested $n reports in $dt ms: $((n * 1000 / dt)) reports/s ($CONC clients, $BATCH per request)"
    wait_for 60 published_all || fail "not published"
    # The same through keep-alive connections, small requests (client cost out of the way).
    python3 "$(dirname "$0")/load.py" "$PORT" "$TOK" 2000 100 8 "$LISTINGS" $((T0 / 1000)) ||
        fail "keep-alive load"
    wait_for 60 published_all || fail "not published"
    curl -s "http://127.0.0.1:$PORT/v1/status" | jq -c '{serial,entries,publisher}'
    echo "== publish latency of a 10,000-change delta with $LISTINGS listings in the store"
    publish_latency
}

publish_latency() {
    wait_for 30 published_all || fail "not published"
    python3 - "$W" "$((T0 / 1000))" <<'PY'
import json, sys
w, t = sys.argv[1], int(sys.argv[2])
items = [{"ip": "40.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255), "source": "spamtrap",
          "time": t} for i in range(10000)]
open(w + "/b10k.json", "w").write(json.dumps(items))
PY
    api POST /v1/reports '{"ip":"198.51.100.9","source":"spamtrap"}'   # warm up
    wait_for 10 published_all
    before=$(nfiles delta)
    # threshold is at most 2 and a spamtrap hit weighs 2: 10,000 new listings in one request.
    curl -s -o "$W/out" -H "Authorization: Bearer $TOK" --data-binary @"$W/b10k.json" \
        "http://127.0.0.1:$PORT/v1/reports"
    t=$(date +%s%N)
    jq -e '.listed == 10000' "$W/out" >/dev/null || fail "not 10,000 listings: $(cat "$W/out")"
    while [ "$(nfiles delta)" = "$before" ]; do sleep 0.002; done
    dt=$((($(date +%s%N) - t) / 1000000))
    st=$(curl -s "http://127.0.0.1:$PORT/v1/status")
    echo "10,000-change delta: $dt ms from the last change committed to the object in the spool" \
        "(publisher: $(echo "$st" | jq .publisher.last_duration_ms) ms of it; batching delay" \
        "$(grep '^delay' "$W/m.conf" | cut -d= -f2))"
}

expire() {
    echo "== expiring $EXPIRE_N listings at once"
    fresh
    E=$((T0 / 1000 + 3600))
    "$FILL" "$W/m.db" "$EXPIRE_N" $E >/dev/null || fail fill
    setclock $(((E - 10) * 1000))
    start_master
    api POST /v1/reports '{"ip":"198.51.100.1","source":"spamtrap"}'
    api POST /v1/reports '{"ip":"198.51.100.1","source":"spamtrap"}'
    wait_for 120 bash -c "[ \$(ls $W/spool/main 2>/dev/null | grep -c snap) -ge 1 ]" || fail "no snapshot"
    wait_for 30 published_all
    before=$(nfiles delta)
    t=$(date +%s%N)
    setclock $((E * 1000))
    while [ "$(nfiles delta)" = "$before" ]; do sleep 0.05; done
    dt=$((($(date +%s%N) - t) / 1000000))
    wait_for 10 published_all
    curl -s "http://127.0.0.1:$PORT/v1/status" | jq -c '{serial,entries}'
    f=$(ls "$W"/spool/main/*.delta | tail -1)
    echo "expired $EXPIRE_N listings: $dt ms from the clock passing their expiry to the published" \
        "delta ($(du -h "$f" | cut -f1), publisher $(curl -s "http://127.0.0.1:$PORT/v1/status" | jq .publisher.last_duration_ms) ms)"
    grep "event=expired" "$W/log" | tail -1
    "$C" verify "$f" --key "$W/m.pub" | grep -E "^(removed|entries):" | tr '\n' ' '
    echo
}

case $WHAT in
ingest) ingest ;;
publish) fresh "policy|threshold = 2"; start_master; publish_latency ;;
expire) expire ;;
all) fresh "policy|threshold = 2"; start_master; publish_latency; expire; ingest ;;
esac
[ -n "$MPID" ] && stop_master
