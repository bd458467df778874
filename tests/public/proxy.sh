#!/bin/bash
# SPDX-License-Identifier: MIT
# Rate limits behind a reverse proxy ([public] trusted_proxies): from a trusted peer each client
# that X-Forwarded-For names (its right-most untrusted address) has its own limit and is the one
# logged; from any other peer, and from a trusted one without the header, the header counts for
# nothing and the peer is the client. The peers are loopback source addresses (curl --interface).
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
wait_until 10 logged master "event=public_rate_limited client=203.0.113.1 " ||
    fail "the limited client is not logged by its forwarded address"
! logged master "client=198.51.100.7" || fail "a spoofed hop was logged as the client"

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
