#!/bin/bash
# SPDX-License-Identifier: MIT
# Crash safety: SIGKILL the master at random moments during ingestion and publishing, many times;
# then no acknowledged report is lost, serials have no gap or repeat, every spool object
# verifies, and the chain of deltas rebuilds exactly the store's listings.
. "$(dirname "$0")/lib.sh"
CYCLES=${CRASH_CYCLES:-30}
setclock $T0
write_conf "policy|threshold = 2" "policy|duration = 2h" "policy|window = 2h" \
    "publisher|snapshot_every = 7" "publisher|history_count = 25" \
    "publisher|async_snapshot_entries = 0"
: >"$W/acked"

# The load: batches of reports with unique evidence ids over a small address
# pool (so listings are created and extended), a removal now and then.
loader() {
    local i=0 url="http://127.0.0.1:$PORT"
    while :; do
        i=$((i + 1))
        local body="[" ids="" t=$(($(cat "$W/clock") / 1000))
        for j in $(seq 20); do
            ip="10.$((RANDOM % 3)).$((RANDOM % 8)).$((RANDOM % 40))"
            src=user
            [ $((RANDOM % 4)) = 0 ] && src=spamtrap
            body+="{\"ip\":\"$ip\",\"source\":\"$src\",\"time\":$t,\"evidence\":\"c$i-$j\"},"
            ids+="c$i-$j"$'\n'
        done
        body="${body%,}]"
        st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H "Authorization: Bearer $TOK" \
            --data-binary "$body" "$url/v1/reports")
        if [ "$st" = 200 ]; then
            printf '%s' "$ids" >>"$W/acked"
        else
            sleep 0.02
        fi
        if [ $((i % 7)) = 0 ]; then
            curl -s -o /dev/null --max-time 3 -X DELETE -H "Authorization: Bearer $TOK" \
                "$url/v1/listings/10.0.$((RANDOM % 8)).$((RANDOM % 40))?reason=technical-error"
        fi
    done
}
loader &
LPID=$!
PIDS+=("$LPID")

start=$SECONDS
for c in $(seq "$CYCLES"); do
    start_master
    sleep "0.$((RANDOM % 7 + 1))$((RANDOM % 10))"
    kill -9 "$MPID"
    wait "$MPID" 2>/dev/null
    # Move time on, so that listings expire while the master is down or up.
    [ $((c % 3)) = 0 ] && setclock $(($(now) + 40 * 60 * 1000))
    [ $((SECONDS - start)) -gt 70 ] && break
done
kill "$LPID"
wait "$LPID" 2>/dev/null
echo "crash cycles: $c, acknowledged reports: $(wc -l <"$W/acked"), kills: $c"
grep -c "event=published type=delta" "$W/log" | sed 's/^/deltas published across runs: /'
grep -c "spool_orphan_removed" "$W/log" | sed 's/^/orphans removed after crashes: /'

# A clean run publishes what was pending, and stops gracefully.
start_master
wait_for 5 published_all || fail "pending changes not published after restart"
stop_master
n=0
for f in "$W"/spool/main/*.delta "$W"/spool/main/*.snap; do
    "$C" verify "$f" --key "$W/m.pub" >/dev/null || fail "$f does not verify"
    n=$((n + 1))
done
echo "spool objects verified: $n"
[ "$(wc -l <"$W/acked")" -gt 100 ] || fail "the load did not get through"
"$CHK" "$W/m.db" "$W/spool/main" "$W/m.pub" "$W/acked" || fail "chain check"

# The checker itself must notice a store that the chain does not rebuild,
# and a lost acknowledged report.
cp "$W/m.db" "$W/t.db"
sqlite3 "$W/t.db" "DELETE FROM listings WHERE key=(SELECT key FROM listings LIMIT 1)"
"$CHK" "$W/t.db" "$W/spool/main" "$W/m.pub" >/dev/null 2>&1 && fail "checker missed a lost listing"
cp "$W/m.db" "$W/t.db"
sqlite3 "$W/t.db" "DELETE FROM reports WHERE evidence='$(sed -n 50p "$W/acked")'"
"$CHK" "$W/t.db" "$W/spool/main" "$W/m.pub" "$W/acked" >/dev/null 2>&1 &&
    fail "checker missed a lost report"
echo PASS
