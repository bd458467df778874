#!/bin/bash
# SPDX-License-Identifier: MIT
# Rate limits behind a reverse proxy ([public] trusted_proxies): from a trusted peer each client
# that X-Forwarded-For names (its right-most untrusted address) has its own limit and is the one
# logged; from any other peer, and from a trusted one without the header, the header counts for
# nothing and the peer is the client. Behind a trusted proxy each forwarded client has at most
# max_requests_per_proxied_client requests in flight (429 past it), and the proxy itself is exempt
# from max_connections_per_address. The peers are loopback source addresses (curl --interface).
. "$(dirname "$0")/../lib.sh"

PROXY=127.0.0.2 # trusted
OTHER=127.0.0.3 # not trusted
BURST=3
alloc_port PUB_PORT
PUB_URL=http://127.0.0.1:$PUB_PORT
# One token a minute after the burst: nothing refills while the test runs.
write_master_conf "public|listen = 127.0.0.1:$PUB_PORT" "public|lookup_rate = 1" \
    "public|lookup_burst = $BURST" "public|trusted_proxies = 10.9.0.0/16, $PROXY"
start_master

# codes FROM N [XFF...]: the status codes of N lookups from FROM, each with one X-Forwarded-For
# header per XFF value (in order).
codes() {
    local from=$1 n=$2 h=() v
    shift 2
    for v in "$@"; do h+=(-H "X-Forwarded-For: $v"); done
    for _ in $(seq "$n"); do
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 --interface "$from" "${h[@]}" \
            "$PUB_URL/api/lookup/192.0.2.1"
    done | tr '\n' ' '
}
allowed() { # FROM N [XFF...]: every one of N lookups is answered 200
    local c
    c=$(codes "$@")
    [ "$c" = "$(printf '200 %.0s' $(seq "$2"))" ] || fail "XFF '${*:3}' from $1: $c (want $2 x 200)"
}
limited() { # FROM [XFF...]: a lookup is refused (429)
    local c
    c=$(codes "$1" 1 "${@:2}")
    [ "$c" = "429 " ] || fail "XFF '${*:2}' from $1: $c (want 429)"
}

# ---- trusted peer: each forwarded client has its own limit --------------------------------------
mark master
allowed $PROXY $BURST 203.0.113.1
limited $PROXY 203.0.113.1
allowed $PROXY $BURST 203.0.113.2
ok "from the trusted proxy: 203.0.113.1 limited after $BURST lookups, 203.0.113.2 not"
# Only the right-most untrusted hop counts: what the client put left of it is not believed, the
# trusted hops right of it are skipped, and several headers are one list in their order.
limited $PROXY "198.51.100.7, 203.0.113.1"
limited $PROXY "203.0.113.1, 10.9.1.1, $PROXY"
limited $PROXY 198.51.100.8 "203.0.113.1"
limited $PROXY "[203.0.113.1]:4711"
limited $PROXY "203.0.113.1:4711"
ok "spoofed left-hand hops ignored, trusted hops skipped, repeated headers joined"
# An IPv6 client's limit is its /64's.
allowed $PROXY $BURST 2001:db8:1:2::1
limited $PROXY 2001:db8:1:2::ffff
ok "an IPv6 client behind the proxy: limited by /64"
# The proxy's own requests, without the header, are its own.
allowed $PROXY $BURST
limited $PROXY
ok "the proxy without X-Forwarded-For: limited as itself"
# A hop with anything but a port after the address is no address: the walk ends at the proxy.
limited $PROXY "[2001:db8::9]junk"
limited $PROXY "203.0.113.9:http"
limited $PROXY "203.0.113.10:"
ok "hops with junk after the address (\"[2001:db8::9]junk\", \"203.0.113.9:http\") count as the proxy"
wait_until 10 logged master "event=public_rate_limited client=203.0.113.1 " ||
    fail "the limited client is not logged by its forwarded address"
! logged master "client=198.51.100.7" || fail "a spoofed hop was logged as the client"
! logged master "client=2001:db8::9" || fail "a hop with junk after it was logged as the client"

# ---- untrusted peer: the header is ignored ------------------------------------------------------
mark master
for i in $(seq $BURST); do
    allowed $OTHER 1 "192.0.2.$i"
done
limited $OTHER 192.0.2.99
limited $OTHER
ok "from an untrusted peer: X-Forwarded-For ignored, limited as itself after $BURST lookups"
wait_until 10 logged master "event=public_rate_limited client=$OTHER " ||
    fail "the untrusted peer is not logged by its own address"
! logged master "client=192.0.2.99" || fail "an untrusted peer's header was logged as the client"

# ---- a filed review names its client ------------------------------------------------------------
stop_master
ini_set "$T/master.conf" "public|request_burst = 10" "public|lookup_burst = 1000"
start_master
list 192.0.2.50
mark master
body=$(jq -cn '{ip:"192.0.2.50",category:"early-delisting",email:"postmaster@example.net",
    name:"Ann",title:"Admin",relationship:"Our server.",reason:"Please."}')
pub POST /api/review -H 'Content-Type: application/json' --data-binary "$body" \
    --interface $PROXY -H "X-Forwarded-For: 203.0.113.40"
[ "$STATUS" = 201 ] || fail "review through the proxy: HTTP $STATUS $(cat "$T/pub.out")"
wait_until 10 logged master "event=public_review_filed id=[0-9]* category=early-delisting client=203.0.113.40" ||
    fail "the filed review does not name its forwarded client"
ok "a review filed through the proxy is logged with the forwarded client"

# ---- requests in flight per forwarded client ----------------------------------------------------
# A held request is a real client uploading slowly: a review POST whose chunked body comes from a
# FIFO this script keeps open, so its header is read and its answer waits for the end of the body.
# The proxy's connections outnumber max_connections_per_address: trusted proxies are exempt from it.
N=3
stop_master
ini_set "$T/master.conf" "public|lookup_burst = 1000" "public|request_burst = 100" \
    "public|max_requests_per_proxied_client = $N" "public|max_connections_per_address = 2" \
    "http|idle_timeout = 120s" "http|request_timeout = 120s"
start_master
declare -A HOLD_PID HOLD_FD
hold() { # NAME FROM [XFF]: starts a held request
    local name=$1 from=$2 h=() fd
    [ -z "${3:-}" ] || h=(-H "X-Forwarded-For: $3")
    mkfifo "$T/hold-$name"
    # Without the other held bodies' write ends: each one's end is its own.
    (
        for fd in "${HOLD_FD[@]}"; do eval "exec $fd>&-"; done
        exec curl -s -o /dev/null -w '%{http_code}' --max-time 120 --interface "$from" "${h[@]}" \
            -H 'Expect:' -H 'Content-Type: application/json' -X POST -T - "$PUB_URL/api/review"
    ) <"$T/hold-$name" >"$T/hold-$name.code" &
    HOLD_PID[$name]=$!
    exec {fd}>"$T/hold-$name"
    HOLD_FD[$name]=$fd
}
release() { # NAME...: ends each held body; its request is answered and the client exits
    local name
    for name in "$@"; do
        eval "exec ${HOLD_FD[$name]}>&-"
        wait "${HOLD_PID[$name]}" || true
    done
}
in_flight() { metric_is master blsync_master_public_proxied_requests_in_flight "$1"; }
conns() { metric_is master 'blsync_http_connections{listener="public"}' "$1"; }

mark master
for i in $(seq $N); do hold a$i $PROXY 203.0.113.1; done
for i in $(seq $N); do hold b$i $PROXY "2001:db8:5:6::$i"; done
wait_until 10 in_flight $((2 * N)) ||
    fail "held requests in flight: $(metric master blsync_master_public_proxied_requests_in_flight) (want $((2 * N)))"
ok "$N held requests each from 203.0.113.1 and 2001:db8:5:6::/64 through the proxy ($((2 * N)) connections, max_connections_per_address = 2)"
pub GET /api/lookup/192.0.2.1 --interface $PROXY -H "X-Forwarded-For: 203.0.113.1"
[ "$STATUS" = 429 ] || fail "request $((N + 1)) of 203.0.113.1: HTTP $STATUS (want 429)"
grep -qi '^Retry-After: 1' "$T/pub.hdr" || fail "the 429 has no Retry-After: $(cat "$T/pub.hdr")"
pub GET /?ip=192.0.2.1 --interface $PROXY -H "X-Forwarded-For: 203.0.113.1"
[ "$STATUS" = 429 ] || fail "page request $((N + 1)) of 203.0.113.1: HTTP $STATUS (want 429)"
limited $PROXY 2001:db8:5:6::ffff
ok "request $((N + 1)) of each held client refused: 429 with Retry-After (IPv6 by /64)"
allowed $PROXY 2 203.0.113.2
allowed $PROXY 2 2001:db8:5:7::1
allowed $PROXY 2
ok "other forwarded clients and the proxy itself still served"
wait_until 10 logged master "event=public_in_flight_limited client=203.0.113.1 in_flight=$N" ||
    fail "the refused client is not logged"
[ "$(metric master 'blsync_master_public_refused_total{reason="in_flight"}')" -ge 3 ] ||
    fail "refusals not counted: $(metric master 'blsync_master_public_refused_total{reason="in_flight"}')"
release a1 b1
for n in a1 b1; do
    c=$(cat "$T/hold-$n.code")
    [ "$c" = 400 ] || fail "held request $n: $c (want 400, its empty body answered)"
done
wait_until 10 in_flight $((2 * N - 2)) || fail "finished requests still counted"
allowed $PROXY 1 203.0.113.1
allowed $PROXY 1 2001:db8:5:6::ffff
ok "a held request finished: its client is served again"
release a2 a3 b2 b3
wait_until 10 in_flight 0 || fail "requests in flight after all ended: not 0"
allowed $PROXY $N 203.0.113.1

# A peer that is not a trusted proxy stays under max_connections_per_address at accept.
wait_until 10 conns 0 || fail "connections left open: $(metric master 'blsync_http_connections{listener="public"}')"
mark master
hold o1 $OTHER
hold o2 $OTHER
wait_until 10 conns 2 || fail "held connections from $OTHER not open"
c=$(codes $OTHER 1 || true) # curl: empty reply
[ "$c" = "000 " ] || fail "connection 3 of $OTHER: $c (want closed at accept)"
wait_until 10 logged master "reason=address_limit addr=$OTHER" || fail "the address limit is not logged"
in_flight 0 || fail "requests from an untrusted peer counted as proxied"
release o1 o2
ok "an untrusted peer: its third connection closed at accept (max_connections_per_address)"

# ---- the option is checked ----------------------------------------------------------------------
for bad in "10.0.0.1/8" "not-an-address" "10.0.0.0/33"; do
    ini_set "$T/master.conf" "public|trusted_proxies = $bad"
    if "$MASTER" --check-config -c "$T/master.conf" >"$T/check.out" 2>&1; then
        fail "trusted_proxies = $bad accepted"
    fi
    grep -q "trusted_proxies" "$T/check.out" || fail "refusal of $bad: $(cat "$T/check.out")"
done
ok "bad trusted_proxies values refused by --check-config"
finish
