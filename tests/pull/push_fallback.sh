#!/bin/bash
# SPDX-License-Identifier: MIT
# A mirror with push first and HTTPS second: while the master's sync
# listener is up, objects come by push (the HTTPS upstream gives heads only);
# with the listener gone the mirror takes the listings from the HTTPS cache
# and stays fresh on its signed heads; when the listener returns, push takes
# over again.
. "$(dirname "$0")/../lib.sh"

pki m
write_master_conf 'publisher|http_head_refresh = 300ms' 'publisher|http_head_ttl = 5s'
start_master
alloc_port TLS PROXY
# The cache speaks HTTPS (HTTP/2) with a certificate for 127.0.0.1 that the mirror trusts by pull_ca.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=cache \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$T/cache.key" -out "$T/cache.pem" 2>/dev/null
start_nginx cache "$TLS" "
    server {
        listen 127.0.0.1:$TLS ssl http2;
        ssl_certificate $T/cache.pem;
        ssl_certificate_key $T/cache.key;
        root $T/spool;
$(spool_locations)
    }"
[ "$(curl -s --cacert "$T/cache.pem" -o /dev/null -w '%{http_version}' "https://127.0.0.1:$TLS/main/head")" = 2 ] ||
    fail "the cache does not answer HTTP/2 over TLS"
# The master's sync listener as the mirror sees it: a proxy this test stops and starts.
mkdir -p "$T/ctl"
start_proxy() {
    spawn proxy "$PY" "$S/tests/chaos/proxy.py" "$T/ctl" "127.0.0.1:$SYNC_PORT" "m=127.0.0.1:$PROXY"
    wait_up proxy 10 logged proxy '^ready'
}
start_proxy
write_pull_conf m push "https://127.0.0.1:$TLS"
ini_set "$T/m/mirror.conf" "sync|master = 127.0.0.1:$PROXY" "sync|pull_ca = $T/cache.pem" \
    'sync|stale_after = 2s'
start_mirror m
U="https://127.0.0.1:$TLS"
pulled() { # objects fetched over HTTPS so far
    local v
    v=$(metric m "blsync_mirror_pull_requests_total{upstream=\"$U\",kind=\"object\",result=\"ok\"}")
    echo "${v:-0}"
}
wait_until 20 synced m || fail "the mirror did not reach serial $(master_serial)"
wait_until 10 metric_is m 'blsync_mirror_connected{feed="main"}' 1 || fail "push is not connected"
list 192.0.2.1
wait_until 10 is_answer m 192.0.2.1 127.0.0.2 || fail "the listing did not arrive"
wait_until 10 synced m || fail "serials differ"
before=$(pulled)
heads=$(metric m "blsync_mirror_pull_requests_total{upstream=\"$U\",kind=\"head\",result=\"ok\"}")
[ -n "$heads" ] || fail "no head fetched over HTTPS"
list 192.0.2.2
wait_until 10 is_answer m 192.0.2.2 127.0.0.2 || fail "the second listing did not arrive"
[ "$(pulled)" = "$before" ] || fail "objects came over HTTPS while push was up ($before -> $(pulled))"
pass "push up: listings by push, heads over HTTPS ($heads+ heads, $before objects at start)"

mark m
stop proxy
wait_until 10 metric_is m 'blsync_mirror_connected{feed="main"}' 0 || fail "the mirror still says connected"
list 192.0.2.3
delist 192.0.2.1
wait_until 20 is_answer m 192.0.2.3 127.0.0.2 || fail "the listing did not arrive over HTTPS"
wait_until 20 is_answer m 192.0.2.1 nx || fail "the delisting did not arrive over HTTPS"
wait_until 10 synced m || fail "serials differ after the fallback"
[ "$(pulled)" -gt "$before" ] || fail "no object came over HTTPS"
pass "sync listener gone: listing and delisting from the HTTPS cache ($(pulled) objects)"
# The push client's own view turns stale; the signed heads keep the zone fresh.
wait_until 20 logged m 'event=sync_freshness.*level=stale' || fail "the push client never went stale"
metric_is m 'blsync_mirror_stale{feed="main"}' 0 || fail "the mirror is not fresh on the HTTPS heads"
is_answer m 192.0.2.3 127.0.0.2 || fail "a listing is no longer answered"
pass "the push path is stale, the mirror stays fresh on the signed heads"

start_proxy
wait_until 20 metric_is m 'blsync_mirror_connected{feed="main"}' 1 || fail "push did not come back"
wait_until 20 logged m 'event=sync_freshness.*level=fresh' || fail "the push client did not turn fresh"
before=$(pulled)
list 192.0.2.4
wait_until 10 is_answer m 192.0.2.4 127.0.0.2 || fail "the listing did not arrive after push returned"
wait_until 10 synced m || fail "serials differ after push returned"
[ "$(pulled)" = "$before" ] || fail "objects still came over HTTPS with push back ($before -> $(pulled))"
pass "sync listener back: listings by push again"
finish
