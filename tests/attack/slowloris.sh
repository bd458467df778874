#!/bin/bash
# SPDX-License-Identifier: MIT
# Slow senders on the HTTP listeners: 1,000 connections from one address, then 1,000 from 100
# addresses, each sending one more header byte a second (never idle long enough for an idle
# timeout), then 200 bodies at a byte a second with a valid token, then a slow flood of /metrics.
# Each connection lives at most the request deadline (3 s here), the API answers and a report
# lists throughout, and the refusals are counted as address_limit, evicted and deadline.
. "$(dirname "$0")/common.sh"
DEADLINE=3
write_master_conf "[http] request_timeout = ${DEADLINE}s" "[http] max_connections = 128"
setup
fd0=$(fds) rss0=$(rss_kb) log0=$(log_bytes)
refused() { metric "blsync_http_refused_total{listener=\"$1\",reason=\"$2\"}"; }
# health_during SECONDS: /v1/health every 200 ms; SLOW is the slowest answer (ms).
health_during() {
    local end=$(($(now_ms) + $1 * 1000)) t0
    SLOW=0
    while [ "$(now_ms)" -lt "$end" ]; do
        t0=$(now_ms)
        health || problem "/v1/health unanswered under the slow flood"
        [ $(($(now_ms) - t0)) -gt "$SLOW" ] && SLOW=$(($(now_ms) - t0))
        sleep 0.2
    done
}
lived() { sed -n 's/.*"lifetime_max_s": \([0-9.]*\).*/\1/p' "$T/flood.json"; }
within_deadline() { # the slowest connection lived at most the deadline, plus 1 s for the sweep
    # (every 100 ms) and for the attack client itself on a loaded machine
    awk -v l="$(lived)" -v d="$DEADLINE" -v k="$SCALE" 'BEGIN { exit !(l <= d + 1 * k) }'
}

echo "== slowloris headers, one address"
flood headers --port "$HTTP_PORT" --conns 1000 --sources 127.0.0.2 --seconds 5 --interval 1
health_during 2
legit_report 192.0.2.20 || true
[ "$(refused api address_limit)" -ge 900 ] ||
    problem "one address held more than its share: $(refused api address_limit) refused"
flood_wait
within_deadline || problem "a slow header lived $(lived) s, deadline $DEADLINE s"
pass "one address: at most 16 held, the rest refused at once; /v1/health <= $SLOW ms; a report listed; no connection lived past $(lived) s"

echo "== slowloris headers, 100 addresses"
flood headers --port "$HTTP_PORT" --conns 1000 --sources 127.0.0.2-127.0.0.101 --seconds 6 \
    --interval 1 --reopen
health_during 3
legit_report 192.0.2.21 || true
open=$(metric 'blsync_http_connections{listener="api"}')
flood_wait
within_deadline || problem "a slow header lived $(lived) s, deadline $DEADLINE s"
[ "${open:-999}" -le $((128 + 16)) ] || problem "$open API connections, bound 128"
for r in evicted deadline; do [ "$(refused api $r)" -ge 1 ] || problem "api $r not counted"; done
pass "100 addresses: $open connections open (bound 128), evicted=$(refused api evicted) deadline=$(refused api deadline); /v1/health <= $SLOW ms; no connection lived past $(lived) s"

echo "== slow bodies with a valid token"
d0=$(refused api deadline)
flood body --port "$HTTP_PORT" --conns 200 --sources 127.0.0.2-127.0.0.21 --seconds 6 \
    --interval 1 --header "Authorization: Bearer $TOK" --header "Content-Type: application/json" \
    --length 1000
health_during 2
flood_wait
within_deadline || problem "a slow body lived $(lived) s, deadline $DEADLINE s"
grep -q '"opened": 200, "closed_by_server": 200,' "$T/flood.json" ||
    problem "not every slow body was cut: $(cat "$T/flood.json")"
api GET /v1/status
reports=$(jq -r .reports_accepted_total "$T/out")
[ "$reports" = 2 ] || problem "$reports reports accepted: a slow body went through"
pass "200 slow bodies cut by the deadline ($(($(refused api deadline) - d0))) or evicted, none accepted ($reports reports in all, the legit ones); /v1/health <= $SLOW ms"

echo "== a slow flood of /metrics"
flood headers --port "$MMET_PORT" --conns 300 --sources 127.0.0.2-127.0.0.31 --path /metrics \
    --method GET --seconds 4 --interval 1 --reopen
ok=0
for _ in 1 2 3 4 5; do
    curl -sf --max-time "$(scaled 2)" "http://127.0.0.1:$MMET_PORT/metrics" >/dev/null && ok=$((ok + 1))
    sleep 0.3
done
flood_wait
[ "$ok" = 5 ] || problem "/metrics answered $ok of 5 scrapes under the slow flood"
[ "$(refused metrics evicted)" -ge 1 ] || problem "metrics evicted not counted"
pass "/metrics answered 5 of 5 scrapes; evicted=$(refused metrics evicted)"

t_end=$(now_ms)
ms=$(delist_within 192.0.2.20 2) && pass "operator delisting on both mirrors $ms ms after the last flood"
wait_until 5 bash -c "[ \$(ls /proc/${PID[master]}/fd | wc -l) -le $((fd0 + 4)) ]" ||
    problem "descriptors did not come back: $(fds) (from $fd0)"
pass "descriptors back to $(fds) (from $fd0) $(($(now_ms) - t_end)) ms after"
rss1=$(rss_kb) log1=$(log_bytes)
[ $((rss1 - rss0)) -le $((64 * 1024 * SCALE)) ] || problem "RSS grew by $((rss1 - rss0)) kB"
[ $((log1 - log0)) -le 200000 ] || problem "the log grew by $((log1 - log0)) bytes"
pass "RSS $rss0 -> $rss1 kB, log +$((log1 - log0)) bytes"
stop_clean master
finish
