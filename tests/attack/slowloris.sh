#!/bin/bash
# SPDX-License-Identifier: MIT
# Slow senders on the HTTP listeners (issue 14, point 2): 1,000 connections from one address,
# then 1,000 from 100 addresses, each sending one more header byte a second (never idle long
# enough for an idle timeout), then 200 bodies at a byte a second with a valid token, then a slow
# flood of /metrics. Each connection lives at most the request deadline (3 s here), the API
# answers and a report lists throughout, and the refusals are counted as address_limit, evicted
# and deadline.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/attack.sh"
DEADLINE=3
attack_master_conf "http|request_timeout = ${DEADLINE}s" 'http|max_connections = 128'
setup
fd0=$(fds master) rss0=$(rss_kb master) log0=$(log_bytes) lines0=$(log_lines)
# health_during SECONDS: watch; every /v1/health answered (SLOW: the slowest, ms).
health_during() {
    watch "$1"
    [ "$FAILED" = 0 ] || problem "/v1/health unanswered $FAILED times under the slow flood"
}
lived() { sed -n 's/.*"lifetime_max_s": \([0-9.]*\).*/\1/p' "$T/flood.json"; }
within_deadline() { # the slowest connection lived at most the deadline, plus 1 s (scaled) for
    # the sweep (every 100 ms) and for the attack client itself on a loaded machine
    awk -v l="$(lived)" -v d="$DEADLINE" -v k="$BL_TIME_SCALE" 'BEGIN { exit !(l <= d + 1 * k) }'
}

echo "== slowloris headers, one address"
flood headers --port "$HTTP_PORT" --conns 1000 --sources 127.0.0.2 --seconds 5 --interval 1
health_during 2
legit_report 192.0.2.20 || true
wait_until 5 refused_at_least api address_limit 900 ||
    problem "one address held more than its share: $(refused api address_limit) refused"
flood_wait
within_deadline || problem "a slow header lived $(lived) s, deadline $DEADLINE s"
pass "one address: at most 16 held, the rest refused at once; /v1/health <= $SLOW ms; a report listed; no connection lived past $(lived) s"

echo "== slowloris headers, 100 addresses"
flood headers --port "$HTTP_PORT" --conns 1000 --sources 127.0.0.2-127.0.0.101 --seconds 6 \
    --interval 1 --reopen
health_during 3
legit_report 192.0.2.21 || true
flood_wait
within_deadline || problem "a slow header lived $(lived) s, deadline $DEADLINE s"
# Connections being shut down stay open until libmicrohttpd closes them: 1/8 more at most.
[ "$MAX_API" -le $((128 + 16)) ] || problem "$MAX_API API connections, bound 128"
for r in evicted deadline; do wait_until 10 refused_at_least api $r 1 || problem "api $r not counted"; done
pass "100 addresses: at most $MAX_API connections open (bound 128), evicted=$(refused api evicted) deadline=$(refused api deadline); /v1/health <= $SLOW ms; no connection lived past $(lived) s"

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
    scrape master >/dev/null && ok=$((ok + 1))
    sleep 0.3 # five scrapes spread over the flood
done
flood_wait
[ "$ok" = 5 ] || problem "/metrics answered $ok of 5 scrapes under the slow flood"
wait_until 10 refused_at_least metrics evicted 1 || problem "metrics evicted not counted"
pass "/metrics answered 5 of 5 scrapes; evicted=$(refused metrics evicted)"

t_end=$(now_ms)
delist_within 192.0.2.20 2 && pass "operator delisting on both mirrors $DELIST_MS ms after the last flood"
fds_back() { [ "$(fds master)" -le $((fd0 + 4)) ]; }
wait_until 5 fds_back || problem "descriptors did not come back: $(fds master) (from $fd0)"
pass "descriptors back to $(fds master) (from $fd0) $(($(now_ms) - t_end)) ms after"
rss1=$(rss_kb master) log1=$(log_bytes)
[ $((rss1 - rss0)) -le "$RSS_SLACK_KB" ] || problem "RSS grew by $((rss1 - rss0)) kB"
[ $((log1 - log0)) -le 200000 ] || problem "the log grew by $((log1 - log0)) bytes"
pass "RSS $rss0 -> $rss1 kB, log +$((log1 - log0)) bytes, $(($(log_lines) - lines0)) lines; CPU $(idle_cpu 1)% over 1 s after"
stop_master
finish
