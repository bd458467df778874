#!/bin/bash
# SPDX-License-Identifier: MIT
# Scrapes a live /metrics endpoint with curl, lints it with promtool, and checks /healthz and errors.
. "$(dirname "$0")/../lib.sh"
serve="$B/tests/ops/ops_metrics_http_serve"
alloc_port port
# serve NAME LISTEN: the server on LISTEN, its stdin a fifo held open on fd 3 (closing fd 3
# stops it), stdout in $T/NAME.out, stderr in $T/NAME.log.
serve() {
    mkfifo "$T/$1.in"
    "$serve" "$2" <"$T/$1.in" >"$T/$1.out" 2>"$T/$1.log" &
    track "$1" $!
    exec 3>"$T/$1.in"
}
has_port() { grep -q '^port' "$T/$1.out" 2>/dev/null; }

# A non-loopback-looking garbage address is refused before anything listens.
if "$serve" "localhost:$port" </dev/null >/dev/null 2>"$T/bad.err"; then
    fail "a host name was accepted as listen address"
fi
grep -q 'problem=' "$T/bad.err" || fail "no problem logged for a bad address: $(cat "$T/bad.err")"

serve s1 "127.0.0.1:$port"
wait_until 5 has_port s1 || fail "server did not report a port: $(cat "$T/s1.out")"
grep -qx "port $port" "$T/s1.out" || fail "server did not report port $port: $(cat "$T/s1.out")"
url="http://127.0.0.1:$port"

curl -fsS --max-time 5 -D "$T/headers" "$url/metrics" >"$T/m1"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/headers" || fail "content type"
promtool check metrics <"$T/m1" || fail "promtool check metrics"
grep -qx 'blsync_mirror_dns_queries_total{transport="udp",qtype="A",rcode="NOERROR"} 3' "$T/m1" ||
    fail "query counter missing"
grep -qx 'blsync_mirror_delisting_propagation_seconds_bucket{feed="main",le="30"} 1' "$T/m1" ||
    fail "propagation bucket missing"
grep -qx 'blsync_propagation_window_seconds 14400' "$T/m1" || fail "window gauge missing"

# A second server on the same port fails cleanly and says why.
if "$serve" "127.0.0.1:$port" </dev/null >/dev/null 2>"$T/second.err"; then
    fail "a second server bound the same port"
fi
grep -q 'event=metrics_listen' "$T/second.err" || fail "bind failure not logged: $(cat "$T/second.err")"

# Live updates show on the next scrape.
echo x >&3
echo x >&3
counted_5() {
    curl -fsS --max-time 5 "$url/metrics" >"$T/m2"
    grep -q 'rcode="NOERROR"} 5$' "$T/m2"
}
wait_until 5 counted_5 || fail "counter did not move to 5"

[ "$(curl -sS --max-time 5 "$url/healthz")" = ok ] || fail "healthz"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url/nope")
[ "$code" = 404 ] || fail "unknown path gave $code"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST -d 'x=1' "$url/metrics")
[ "$code" = 405 ] || fail "POST gave $code"
allow=$(curl -sS --max-time 5 -o /dev/null -D - -X POST "$url/metrics" | tr -d '\r' | sed -n 's/^Allow: //Ip')
[ "$allow" = "GET, HEAD" ] || fail "the 405 names '$allow' in Allow, want GET, HEAD"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -I "$url/metrics")
[ "$code" = 200 ] || fail "HEAD gave $code"
# Requests that break RFC 9112's rules on Host, Transfer-Encoding and field lines: 400 (501
# for an unknown coding) at once, the connection closed; an absolute-form target answered as
# its path; a query with more arguments than the connection's memory holds: 414 at once; a
# body, declared or chunked: 413 at once.
"$PY" "$S/tests/attack/http_conf.py" --timeout "$(scaled 2)" "$port" GET /metrics host te fields target query no-body ||
    fail "RFC 9112 cases failed (above)"

# Stop: closing stdin ends the server cleanly, and the port is free again.
exec 3>&-
await s1 10
[ "$RC" = 0 ] || fail "server exit status $RC"
if curl -s --max-time 2 "$url/metrics" >/dev/null; then fail "still listening after stop"; fi

# An unhealthy daemon answers 503 with its reason; IPv6 loopback works where available.
BL_TEST_UNHEALTHY="stale feed=main" serve s2 "[::1]:$port"
settled() { has_port s2 || ! running s2; }
wait_until 5 settled || fail "the [::1] server neither listens nor ends"
if has_port s2; then
    body=$(curl -sS --max-time 5 -w ' %{http_code}' "http://[::1]:$port/healthz")
    [ "$body" = "stale feed=main
 503" ] || fail "unhealthy healthz gave '$body'"
else
    echo "note: no IPv6 loopback here ($(cat "$T/s2.log")); skipped the [::1] part"
fi
exec 3>&-
await s2 10
echo "metrics_http ok on port $port"
