#!/bin/bash
# SPDX-License-Identifier: MIT
# Huge declared bodies: Content-Length 10 MB, 1 GB and 2^62 with no body behind them, with and
# without a token, on the API and /metrics; a chunked body that never ends; 200 connections at
# once declaring 1 GB each. Every one is answered (401 without the token, then 413) before a byte
# of body is read, the memory does not grow, and the refusals are counted (issue 14, point 2).
# Content-Length fields that disagree: 400, the connection closed, nothing stored.
# Requests that break RFC 9112's rules on Host, Transfer-Encoding and field lines: 400 (501
# for an unknown coding) at once, the connection closed; an absolute-form target answered as
# its path; a query with more arguments than the connection's memory holds: 414 at once
# (http_conf.py).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/attack.sh"
setup
rss0=$(rss_kb master) lines0=$(log_lines)
MB10=10485760 GB1=1073741824 E62=4611686018427387904
# declare_all PORT METHOD PATH WANT [HEADER...]: each huge length answered WANT within 1 s.
declare_all() {
    local port=$1 method=$2 path=$3 want=$4 h=() x
    shift 4
    for x in "$@"; do h+=(--header "$x"); done
    "$PY" "$FLOOD" declare --port "$port" --method "$method" --path "$path" --seconds 5 \
        --length $MB10 --length $GB1 --length $E62 "${h[@]}" >"$T/declare.json" ||
        fail "attack client failed"
    jq -e --argjson w "$want" --argjson s "$(scaled 1)" \
        'all(.declare[]; .status == $w and .seconds <= $s)' "$T/declare.json" >/dev/null ||
        problem "$method $path ${*:-(no token)}: want $want at once, got $(cat "$T/declare.json")"
    echo "  $method :$port$path ${*:+with token}: $(jq -c '[.declare[] | [.status, .seconds]]' "$T/declare.json")"
}
auth="Authorization: Bearer $TOK"
a0=$(refused api unauthorized) l0=$(refused api too_large)
declare_all "$HTTP_PORT" POST /v1/reports 401
declare_all "$HTTP_PORT" POST /v1/listings 401
declare_all "$HTTP_PORT" DELETE /v1/listings/192.0.2.1 401
declare_all "$HTTP_PORT" POST /v1/reports 413 "$auth"
declare_all "$HTTP_PORT" POST /v1/listings 413 "$auth"
declare_all "$HTTP_PORT" POST /v1/nothing 401
declare_all "$HTTP_PORT" POST /v1/nothing 404 "$auth"
declare_all "$HTTP_PORT" PUT /v1/reports 405 "$auth"
declare_all "$MMET_PORT" GET /metrics 413
declare_all "$MMET_PORT" POST /metrics 405
[ "$(refused api unauthorized)" -ge $((a0 + 9)) ] || problem "401s not counted"
[ "$(refused api too_large)" -ge $((l0 + 6)) ] || problem "413s not counted"
[ "$(refused metrics too_large)" -ge 3 ] || problem "413s of /metrics not counted"
pass "every huge declared body answered at once (401 before 413), counted: api unauthorized=$(refused api unauthorized) too_large=$(refused api too_large), metrics too_large=$(refused metrics too_large)"

echo "== Expect: 100-continue"
code=$(head -c $MB10 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --max-time "$(scaled_int 5)" \
    -H "$auth" -H 'Expect: 100-continue' --data-binary @- "$MASTER_URL/v1/reports")
[ "$code" = 413 ] || problem "Expect: 100-continue with 10 MB: HTTP $code"

echo "== a chunked body that grows past max_body"
l0=$(refused api too_large)
"$PY" - "$HTTP_PORT" "$TOK" <<'EOF' || problem "the chunked flood was not cut"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + sys.argv[2].encode() +
          b"\r\nTransfer-Encoding: chunked\r\n\r\n")
chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
t0, sent = time.monotonic(), 0
try:
    while time.monotonic() - t0 < 5:
        s.sendall(chunk)
        sent += 65536
except OSError:
    print(f"  cut after {sent} bytes, {time.monotonic() - t0:.3f} s")
    sys.exit(0)
sys.exit(1)
EOF
wait_until 10 refused_at_least api too_large $((l0 + 1)) ||
    problem "the chunked body was not counted as too_large"

echo "== Content-Length fields that disagree"
# RFC 9112 6.3: no known end, so 400 and the connection closed, the body unread (a
# proxy in front reading the other length would see the rest as another request).
"$PY" - "$HTTP_PORT" "$TOK" "$MMET_PORT" <<'EOF' || problem "conflicting Content-Length fields were not refused"
import socket, sys
body = b'{"ip":"192.0.2.31","source":"user"}'
def ask(port, path, lengths, auth):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    s.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"".join(
        b"Content-Length: %d\r\n" % n for n in lengths) + b"\r\n" + body + b"GET / HTTP/1.1\r\n\r\n")
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            return got
        got += d
auth = b"Authorization: Bearer " + sys.argv[2].encode() + b"\r\n"
for port, path, a in ((sys.argv[1], b"/v1/reports", auth), (sys.argv[3], b"/metrics", b"")):
    for lengths in ((len(body), len(body) + 5), (len(body) + 5, len(body))):
        got = ask(port, path, lengths, a)
        if not got.startswith(b"HTTP/1.1 400 ") or got.count(b"HTTP/1.1 ") != 1:
            sys.exit("POST %s with Content-Length %s: %r" % (path.decode(), lengths, got[:200]))
print("  400 and closed: the API and /metrics")
EOF
lookup_is 192.0.2.31 .reports_total 0 || problem "a report with conflicting lengths was stored"

# conf_cases [--header H] PORT METHOD PATH CASE...: http_conf.py's cases on one listener.
conf_cases() {
    "$PY" "$S/tests/attack/http_conf.py" --timeout "$(scaled 2)" "$@" ||
        problem "http_conf.py $*: RFC 9112 cases failed (above)"
}
echo "== Host (RFC 9112 3.2)"
conf_cases "$HTTP_PORT" GET /v1/health host
conf_cases "$MMET_PORT" GET /metrics host
echo "== Transfer-Encoding (RFC 9112 6.1, 6.3)"
conf_cases "$HTTP_PORT" GET /v1/health te
conf_cases --header "$auth" "$HTTP_PORT" POST /v1/reports te
conf_cases "$MMET_PORT" GET /metrics te
echo "== field lines (RFC 9112 5.1, 5.2, 2.2)"
conf_cases "$HTTP_PORT" GET /v1/health fields
conf_cases "$MMET_PORT" GET /metrics fields
echo "== absolute-form targets (RFC 9112 3.2.2)"
conf_cases --header "$auth" "$HTTP_PORT" GET /v1/status target
conf_cases "$HTTP_PORT" GET /v1/status target
conf_cases "$MMET_PORT" GET /metrics target
echo "== many query arguments"
conf_cases "$HTTP_PORT" GET /v1/health query
conf_cases "$MMET_PORT" GET /metrics query no-body

echo "== 200 connections at once, each declaring 1 GB"
flood body --port "$HTTP_PORT" --conns 200 --sources 127.0.0.2-127.0.0.21 --seconds 3 \
    --interval 0.01 --header "$auth" --length $GB1
legit_report 192.0.2.30 || true
flood_wait
awk -v l="$(sed -n 's/.*"lifetime_max_s": \([0-9.]*\).*/\1/p' "$T/flood.json")" -v k="$BL_TIME_SCALE" \
    'BEGIN { exit !(l <= 1 * k) }' || problem "a 1 GB declaration was held: $(cat "$T/flood.json")"
rss1=$(rss_kb master)
[ $((rss1 - rss0)) -le $((RSS_SLACK_KB / 2)) ] || problem "RSS grew by $((rss1 - rss0)) kB"
pass "200 x 1 GB refused within $(sed -n 's/.*"lifetime_max_s": \([0-9.]*\).*/\1/p' "$T/flood.json") s each; RSS $rss0 -> $rss1 kB; a report listed"
delist_within 192.0.2.30 2 && pass "operator delisting on both mirrors $DELIST_MS ms after"
echo "log +$(($(log_lines) - lines0)) lines; CPU $(idle_cpu 1)% over 1 s after"
stop_master
finish
