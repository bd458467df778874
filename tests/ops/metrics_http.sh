#!/bin/bash
# SPDX-License-Identifier: MIT
# Scrapes a live /metrics endpoint with curl, lints it with promtool, and checks /healthz and errors.
set -euo pipefail
serve="$BL_BUILD/tests/ops/ops_metrics_http_serve"
# A port in 10000-11999 (below the ephemeral range 32768+, where client sockets
# could take it) chosen from our pid, skipping ones already in use.
for i in $(seq 0 20); do
    port=$((10000 + ($$ + i * 7) % 2000))
    ss -Htln "( sport = :$port )" 2>/dev/null | grep -q . || break
done
tmp=$(mktemp -d)
pid=
cleanup() {
    exec 3>&- 2>/dev/null || true
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A non-loopback-looking garbage address is refused before anything listens.
if "$serve" "localhost:$port" </dev/null >/dev/null 2>"$tmp/err"; then
    fail "a host name was accepted as listen address"
fi
grep -q 'problem=' "$tmp/err" || fail "no problem logged for a bad address: $(cat "$tmp/err")"

mkfifo "$tmp/in"
"$serve" "127.0.0.1:$port" <"$tmp/in" >"$tmp/out" &
pid=$!
exec 3>"$tmp/in"
for _ in $(seq 50); do grep -q '^port' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
grep -qx "port $port" "$tmp/out" || fail "server did not report port $port: $(cat "$tmp/out")"
url="http://127.0.0.1:$port"

curl -fsS --max-time 5 -D "$tmp/headers" "$url/metrics" >"$tmp/m1"
grep -qi '^content-type: text/plain; version=0.0.4' "$tmp/headers" || fail "content type"
promtool check metrics <"$tmp/m1" || fail "promtool check metrics"
grep -qx 'blsync_mirror_dns_queries_total{transport="udp",qtype="A",rcode="NOERROR"} 3' "$tmp/m1" \
    || fail "query counter missing"
grep -qx 'blsync_mirror_delisting_propagation_seconds_bucket{feed="main",le="30"} 1' "$tmp/m1" \
    || fail "propagation bucket missing"
grep -qx 'blsync_propagation_window_seconds 14400' "$tmp/m1" || fail "window gauge missing"

# A second server on the same port fails cleanly and says why.
if "$serve" "127.0.0.1:$port" </dev/null >/dev/null 2>"$tmp/err3"; then
    fail "a second server bound the same port"
fi
grep -q 'event=metrics_listen' "$tmp/err3" || fail "bind failure not logged: $(cat "$tmp/err3")"

# Live updates show on the next scrape.
echo x >&3
echo x >&3
for _ in $(seq 50); do
    curl -fsS --max-time 5 "$url/metrics" >"$tmp/m2"
    grep -q 'rcode="NOERROR"} 5$' "$tmp/m2" && break
    sleep 0.1
done
grep -q 'rcode="NOERROR"} 5$' "$tmp/m2" || fail "counter did not move to 5"

[ "$(curl -sS --max-time 5 "$url/healthz")" = ok ] || fail "healthz"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url/nope")
[ "$code" = 404 ] || fail "unknown path gave $code"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST -d 'x=1' "$url/metrics")
[ "$code" = 405 ] || fail "POST gave $code"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -I "$url/metrics")
[ "$code" = 200 ] || fail "HEAD gave $code"

# Stop: closing stdin ends the server cleanly, and the port is free again.
exec 3>&-
wait "$pid" || fail "server exit status $?"
pid=
if curl -s --max-time 2 "$url/metrics" >/dev/null; then fail "still listening after stop"; fi

# An unhealthy daemon answers 503 with its reason; IPv6 loopback works where available.
mkfifo "$tmp/in2"
BL_TEST_UNHEALTHY="stale feed=main" "$serve" "[::1]:$port" <"$tmp/in2" >"$tmp/out2" 2>"$tmp/err2" &
pid=$!
exec 3>"$tmp/in2"
for _ in $(seq 50); do grep -q '^port' "$tmp/out2" 2>/dev/null && break; sleep 0.1; done
if grep -q '^port' "$tmp/out2"; then
    body=$(curl -sS --max-time 5 -w ' %{http_code}' "http://[::1]:$port/healthz")
    [ "$body" = "stale feed=main
 503" ] || fail "unhealthy healthz gave '$body'"
else
    echo "note: no IPv6 loopback here ($(cat "$tmp/err2")); skipped the [::1] part"
fi
exec 3>&-
wait "$pid" 2>/dev/null || true
pid=
echo "metrics_http ok on port $port"
