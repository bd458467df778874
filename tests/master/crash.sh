#!/bin/bash
# SPDX-License-Identifier: MIT
# Crash safety: SIGKILL the master at random moments during ingestion and publishing, many times;
# then no acknowledged report is lost, serials have no gap or repeat, every spool object
# verifies, and the chain of deltas rebuilds exactly the store's listings.
. "$(dirname "$0")/../lib.sh"
CYCLES=${CRASH_CYCLES:-30}
setclock $T0
write_master_conf "policy|threshold = 2" "policy|duration = 2h" "policy|window = 2h" \
    "publisher|snapshot_every = 7" "publisher|history_count = 25" \
    "publisher|async_snapshot_entries = 0"
: >"$T/acked"

# The load: batches of reports with unique evidence ids over a small address
# pool (so listings are created and extended), a removal now and then. The
# master is down much of the time: a refused connection is expected.
loader() {
    local i=0 j ip src body ids t st
    while :; do
        i=$((i + 1))
        body="[" ids="" t=$(($(clock_ms) / 1000))
        for j in $(seq 20); do
            ip="10.$((RANDOM % 3)).$((RANDOM % 8)).$((RANDOM % 40))"
            src=user
            if [ $((RANDOM % 4)) = 0 ]; then src=spamtrap; fi
            body+="{\"ip\":\"$ip\",\"source\":\"$src\",\"time\":$t,\"evidence\":\"c$i-$j\"},"
            ids+="c$i-$j"$'\n'
        done
        body="${body%,}]"
        st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H "Authorization: Bearer $TOK" \
            --data-binary "$body" "$MASTER_URL/v1/reports") || st=000
        if [ "$st" = 200 ]; then
            printf '%s' "$ids" >>"$T/acked"
        else
            sleep 0.02 # the master is down: do not spin
        fi
        if [ $((i % 7)) = 0 ]; then
            curl -s -o /dev/null --max-time 3 -X DELETE -H "Authorization: Bearer $TOK" \
                "$MASTER_URL/v1/listings/10.0.$((RANDOM % 8)).$((RANDOM % 40))?reason=technical-error" || true
        fi
    done
}
loader &
track loader $!

start=$SECONDS
for c in $(seq "$CYCLES"); do
    start_master
    # The moment of the kill is random on purpose: 10 to 799 ms after the start.
    sleep "0.$((RANDOM % 7 + 1))$((RANDOM % 10))"
    stop master KILL
    # Move time on, so that listings expire while the master is down or up.
    if [ $((c % 3)) = 0 ]; then setclock $(($(clock_ms) + 40 * 60 * 1000)); fi
    if [ $((SECONDS - start)) -gt 70 ]; then break; fi
done
stop loader
echo "crash cycles: $c, acknowledged reports: $(wc -l <"$T/acked"), kills: $c"
echo "deltas published across runs: $(grep -c "event=published type=delta" "$T/master.log" || true)"
echo "orphans removed after crashes: $(grep -c "spool_orphan_removed" "$T/master.log" || true)"

# A clean run publishes what was pending, and stops gracefully.
start_master
wait_until 5 published_all || fail "pending changes not published after restart"
stop_master
n=0
for f in "$T"/spool/main/*.delta "$T"/spool/main/*.snap; do
    "$CTL" verify "$f" --key "$T/sign.pub" >/dev/null || fail "$f does not verify"
    n=$((n + 1))
done
echo "spool objects verified: $n"
[ "$(wc -l <"$T/acked")" -gt 100 ] || fail "the load did not get through"
"$CHK" "$T/master.db" "$T/spool/main" "$T/sign.pub" "$T/acked" || fail "chain check"

# The checker itself must notice a store that the chain does not rebuild,
# and a lost acknowledged report.
cp "$T/master.db" "$T/t.db"
sqlite3 "$T/t.db" "DELETE FROM listings WHERE key=(SELECT key FROM listings LIMIT 1)"
"$CHK" "$T/t.db" "$T/spool/main" "$T/sign.pub" >/dev/null 2>&1 && fail "checker missed a lost listing"
cp "$T/master.db" "$T/t.db"
sqlite3 "$T/t.db" "DELETE FROM reports WHERE evidence='$(sed -n 50p "$T/acked")'"
"$CHK" "$T/t.db" "$T/spool/main" "$T/sign.pub" "$T/acked" >/dev/null 2>&1 &&
    fail "checker missed a lost report"
echo PASS
