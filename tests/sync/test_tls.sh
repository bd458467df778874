#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mutual TLS 1.3 transport (runtime/tls) with certificates from `blsyncctl certs`
# and the openssl CLI: who is accepted, who is refused and why, s_client as a
# real peer, revocation (also of a live connection), pinning, backpressure.
set -euo pipefail

ECHO=$BL_BUILD/tests/sync/tls_echo
CTL=${BLSYNCCTL:-$BL_BUILD/master/blsyncctl}
T=$(mktemp -d /tmp/bl_sync_tls.XXXXXX)
# 4 free ports below the ephemeral range (ports.sh).
. "$(dirname "$0")/ports.sh"
pick_ports 4
PORT=$BASE
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.log; do echo "--- $f" >&2; cat "$f" >&2; done
    exit 1
}
pass() { echo "ok: $*"; }

# Waits until a log file has a line matching a pattern (5 s).
wait_for() {
    for _ in $(seq 100); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "timed out waiting for '$2' in $1"
}

# CA "a": the real one. CA "b": another CA with the same names.
"$CTL" certs --dir "$T/a" --master-name master.test --mirror m1 --mirror m2 --mirror m3 >/dev/null
"$CTL" certs --dir "$T/b" --master-name master.test --mirror m1 >/dev/null
[ "$(stat -c %a "$T/a/ca.key")" = 600 ] || fail "ca.key not mode 0600"
[ "$(stat -c %a "$T/a/mirror-m1.key")" = 600 ] || fail "mirror key not mode 0600"
openssl verify -CAfile "$T/a/ca.pem" "$T/a/master.pem" "$T/a/mirror-m1.pem" >/dev/null ||
    fail "openssl does not verify blsyncctl certificates"
openssl x509 -in "$T/a/master.pem" -noout -ext subjectAltName | grep -q "DNS:master.test" ||
    fail "master certificate lacks its dNSName"
# A later run adds a mirror under the same CA.
"$CTL" certs --dir "$T/a" --mirror m4 --key-type ed25519 >/dev/null
openssl verify -CAfile "$T/a/ca.pem" "$T/a/mirror-m4.pem" >/dev/null || fail "m4 not under CA a"
pass "blsyncctl certs"

echo m2 >"$T/revoked"
A="$T/a"
"$ECHO" server --cert "$A/master.pem" --key "$A/master.key" --ca "$A/ca.pem" \
    --revoked "$T/revoked" --port "$PORT" >"$T/server.log" 2>&1 &
PIDS+=($!)
SERVER=$!
wait_for "$T/server.log" "listening $PORT"

client() { # CERTDIR NAME SERVERNAME [args...]: trusts CA a, presents CERTDIR/mirror-NAME
    local d=$1 n=$2 s=$3
    shift 3
    "$ECHO" client --cert "$d/mirror-$n.pem" --key "$d/mirror-$n.key" --ca "$A/ca.pem" \
        --port "$PORT" --name "$s" "$@"
}
connects() { grep -c "^connect $1\$" "$T/server.log" || true; }

out=$(client "$A" m1 master.test --bytes 1000) || fail "m1 refused: $out"
grep -q "^ok peer=master.test bytes=1000" <<<"$out" || fail "m1: $out"
wait_for "$T/server.log" "^connect m1$"
pass "mutual TLS echo ($out)"

out=$(client "$A" m3 master.test --bytes 4194304) || fail "m3 4 MiB: $out"
pass "4 MiB echo ($out)"

# Refused by the server: another CA.
out=$(client "$T/b" m1 master.test --bytes 100) && fail "CA b accepted: $out"
[ "$(connects m1)" = 1 ] || fail "server accepted a certificate from another CA"
grep -qi "alert" <<<"$out" || fail "no alert for another CA: $out"
wait_for "$T/server.log" "close - reason=.*certificate verify failed"
grep "close - reason=.*certificate verify failed" "$T/server.log" | tail -1
pass "another CA refused by the server ($out)"

# Refused by the server: a revoked name.
out=$(client "$A" m2 master.test --bytes 100) && fail "revoked m2 accepted: $out"
[ "$(connects m2)" = 0 ] || fail "server accepted revoked m2"
grep -qi "revoked" <<<"$out" || fail "no revocation alert: $out"
pass "revoked name refused ($out)"

# Refused by the client: the wrong server name.
out=$(client "$A" m1 other.test --bytes 100) && fail "wrong name accepted: $out"
grep -q "verify: hostname mismatch" <<<"$out" || fail "wrong name: $out"
pass "wrong server name refused by the client ($out)"

# Refused by the client: a server certificate from another CA.
"$ECHO" server --cert "$T/b/master.pem" --key "$T/b/master.key" --ca "$T/b/ca.pem" \
    --port $((PORT + 1)) >"$T/server_b.log" 2>&1 &
PIDS+=($!)
wait_for "$T/server_b.log" "listening"
out=$("$ECHO" client --cert "$A/mirror-m1.pem" --key "$A/mirror-m1.key" --ca "$A/ca.pem" \
    --port $((PORT + 1)) --name master.test) && fail "server of CA b accepted: $out"
grep -q "certificate verify failed" <<<"$out" || fail "server of CA b: $out"
grep -q "^connect" "$T/server_b.log" && fail "server b completed a handshake"
pass "server certificate from another CA refused by the client ($out)"

# openssl s_client as a real peer.
S_CLIENT=(openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$A/ca.pem"
    -verify_hostname master.test -verify_return_error -quiet)
got=$( (echo "hello from s_client"; sleep 1) | timeout 10 "${S_CLIENT[@]}" -tls1_3 \
    -cert "$A/mirror-m3.pem" -key "$A/mirror-m3.key" 2>"$T/s_client_ok.log" || true)
[ "$got" = "hello from s_client" ] || fail "s_client echo: '$got'"
pass "openssl s_client with a mirror certificate"

before=$(grep -c "^connect" "$T/server.log")
(echo "x"; sleep 1) | timeout 10 "${S_CLIENT[@]}" -tls1_3 >"$T/s_client_nocert.out" \
    2>"$T/s_client_nocert.log" || true
wait_for "$T/server.log" "close - reason=.*peer did not return a certificate"
[ "$(grep -c "^connect" "$T/server.log")" = "$before" ] || fail "no-certificate client accepted"
grep -q "x" "$T/s_client_nocert.out" && fail "no-certificate client got data"
pass "client without certificate refused"

if timeout 10 "${S_CLIENT[@]}" -tls1_2 -cert "$A/mirror-m3.pem" -key "$A/mirror-m3.key" \
    </dev/null >"$T/s_client_12.out" 2>"$T/s_client_12.log"; then
    fail "TLS 1.2 handshake succeeded"
fi
grep -qi "protocol version\|no protocols\|unsupported protocol" "$T/s_client_12.log" ||
    fail "TLS 1.2: unexpected error: $(cat "$T/s_client_12.log")"
[ "$(grep -c "^connect" "$T/server.log")" = "$before" ] || fail "TLS 1.2 client accepted"
pass "TLS 1.2 refused"

# Revocation of a live connection: reload on SIGHUP closes it.
client "$A" m3 master.test --bytes 10 --hold --timeout-ms 15000 >"$T/hold.out" &
HOLD=$!
wait_for "$T/server.log" "^connect m3$"
sleep 0.3
printf 'm2\nm3\n' >"$T/revoked"
kill -HUP "$SERVER"
wait "$HOLD" || true
wait_for "$T/server.log" "close m3 reason=certificate revoked"
out=$(client "$A" m3 master.test --bytes 10) && fail "m3 accepted after revocation: $out"
pass "revocation reloaded and applied to a live connection"

# Pinned client certificates (self-signed, made with the openssl CLI), no CA.
for n in p1 p2; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$n" -keyout "$T/$n.key" -out "$T/$n.pem" 2>/dev/null
done
openssl x509 -in "$T/p1.pem" -noout -fingerprint -sha256 | sed 's/.*=//' >"$T/pins"
"$ECHO" server --cert "$A/master.pem" --key "$A/master.key" --pinned "$T/pins" \
    --port $((PORT + 2)) >"$T/server_pin.log" 2>&1 &
PIDS+=($!)
wait_for "$T/server_pin.log" "listening"
out=$("$ECHO" client --cert "$T/p1.pem" --key "$T/p1.key" --ca "$A/ca.pem" \
    --port $((PORT + 2)) --name master.test) || fail "pinned p1 refused: $out"
out=$("$ECHO" client --cert "$T/p2.pem" --key "$T/p2.key" --ca "$A/ca.pem" \
    --port $((PORT + 2)) --name master.test) && fail "unpinned p2 accepted: $out"
grep -q "^connect p2" "$T/server_pin.log" && fail "server accepted unpinned p2"
pass "pinned certificate accepted, unpinned refused"

# Backpressure: a stopped reader; the writer's queue stays under its limit.
out=$("$ECHO" queue --dir "$A" --port $((PORT + 3)) --bytes 67108864) || fail "queue: $out"
echo "$out"
pass "bounded write queue"
