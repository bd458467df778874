#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mutual TLS 1.3 transport (runtime/tls) with certificates from `blsyncctl certs`
# and the openssl CLI: who is accepted, who is refused and why, s_client as a
# real peer, revocation (also of a live connection), pinning, backpressure.
. "$(dirname "$0")/../lib.sh"
ECHO=$B/tests/sync/tls_echo
CTL=${BLSYNCCTL:-$CTL}
# Every server binds port 0 and prints the port it got ("listening PORT").
# logs WHO PATTERN: waits until $T/WHO.log has a line matching PATTERN.
logs() { wait_until 5 grep -q -- "$2" "$T/$1.log" || fail "timed out waiting for '$2' in $T/$1.log"; }

# CA "a": the real one. CA "b": another CA with the same names.
"$CTL" certs --dir "$T/a" --master-name master.test --mirror m1 --mirror m2 --mirror m3 >/dev/null
"$CTL" certs --dir "$T/b" --master-name master.test --mirror m1 >/dev/null
[ "$(stat -c %a "$T/a/ca.key")" = 600 ] || fail "ca.key not mode 0600"
[ "$(stat -c %a "$T/a/mirror-m1.key")" = 600 ] || fail "mirror key not mode 0600"
openssl verify -CAfile "$T/a/ca.pem" "$T/a/master.pem" "$T/a/mirror-m1.pem" >/dev/null ||
    fail "openssl does not verify blsyncctl certificates"
grep -q "DNS:master.test" <<<"$(openssl x509 -in "$T/a/master.pem" -noout -ext subjectAltName)" ||
    fail "master certificate lacks its dNSName"
# A later run adds a mirror under the same CA.
"$CTL" certs --dir "$T/a" --mirror m4 --key-type ed25519 >/dev/null
openssl verify -CAfile "$T/a/ca.pem" "$T/a/mirror-m4.pem" >/dev/null || fail "m4 not under CA a"
pass "blsyncctl certs"

echo m2 >"$T/revoked"
A="$T/a"
spawn server "$ECHO" server --cert "$A/master.pem" --key "$A/master.key" --ca "$A/ca.pem" \
    --revoked "$T/revoked" --port 0
PORT=$(port_from "$T/server.log")

client() { # CERTDIR NAME SERVERNAME [args...]: trusts CA a, presents CERTDIR/mirror-NAME
    local d=$1 n=$2 s=$3
    shift 3
    "$ECHO" client --cert "$d/mirror-$n.pem" --key "$d/mirror-$n.key" --ca "$A/ca.pem" \
        --port "$PORT" --name "$s" "$@"
}
connects() { grep -c "^connect $1\$" "$T/server.log" || true; }

out=$(client "$A" m1 master.test --bytes 1000) || fail "m1 refused: $out"
grep -q "^ok peer=master.test bytes=1000" <<<"$out" || fail "m1: $out"
logs server "^connect m1$"
pass "mutual TLS echo ($out)"

out=$(client "$A" m3 master.test --bytes 4194304) || fail "m3 4 MiB: $out"
pass "4 MiB echo ($out)"

# Refused by the server: another CA.
out=$(client "$T/b" m1 master.test --bytes 100) && fail "CA b accepted: $out"
[ "$(connects m1)" = 1 ] || fail "server accepted a certificate from another CA"
grep -qi "alert" <<<"$out" || fail "no alert for another CA: $out"
logs server "close - reason=.*certificate verify failed"
grep "close - reason=.*certificate verify failed" "$T/server.log" | tail -n 1
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
spawn server_b "$ECHO" server --cert "$T/b/master.pem" --key "$T/b/master.key" --ca "$T/b/ca.pem" --port 0
PORT_B=$(port_from "$T/server_b.log")
out=$("$ECHO" client --cert "$A/mirror-m1.pem" --key "$A/mirror-m1.key" --ca "$A/ca.pem" \
    --port "$PORT_B" --name master.test) && fail "server of CA b accepted: $out"
grep -q "certificate verify failed" <<<"$out" || fail "server of CA b: $out"
grep -q "^connect" "$T/server_b.log" && fail "server b completed a handshake"
pass "server certificate from another CA refused by the client ($out)"

# openssl s_client as a real peer. Its stdin stays open (a fifo) until the
# awaited event: closing it ends the session.
S_CLIENT=(openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$A/ca.pem"
    -verify_hostname master.test -verify_return_error -quiet)
# s_client_until NAME EVENT S_CLIENT-ARGS...: s_client with the line $LINE on
# its stdin, kept open until the function EVENT succeeds (5 s at most); its
# output in $T/NAME.out and $T/NAME.log.
s_client_until() {
    local name=$1 ev=$2 fd pid
    shift 2
    mkfifo "$T/$name.in"
    timeout 10 "${S_CLIENT[@]}" "$@" <"$T/$name.in" >"$T/$name.out" 2>"$T/$name.log" &
    pid=$!
    exec {fd}>"$T/$name.in"
    echo "$LINE" >&"$fd"
    wait_until 5 "$ev" || true
    exec {fd}>&-
    wait "$pid" || true
}
LINE="hello from s_client"
echoed() { grep -qx "$LINE" "$T/s_client_ok.out"; }
s_client_until s_client_ok echoed -tls1_3 -cert "$A/mirror-m3.pem" -key "$A/mirror-m3.key"
got=$(cat "$T/s_client_ok.out")
[ "$got" = "hello from s_client" ] || fail "s_client echo: '$got'"
pass "openssl s_client with a mirror certificate"

before=$(grep -c "^connect" "$T/server.log")
LINE=x
nocert_refused() { grep -q "close - reason=.*peer did not return a certificate" "$T/server.log"; }
s_client_until s_client_nocert nocert_refused -tls1_3
logs server "close - reason=.*peer did not return a certificate"
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
m3_connects=$(connects m3)
client "$A" m3 master.test --bytes 10 --hold --timeout-ms 15000 >"$T/hold.out" &
HOLD=$!
m3_connected() { [ "$(connects m3)" -gt "$m3_connects" ]; }
wait_until 5 m3_connected || fail "the holding m3 did not connect"
printf 'm2\nm3\n' >"$T/revoked"
kill -HUP "${PID[server]}"
wait "$HOLD" || true
logs server "close m3 reason=certificate revoked"
out=$(client "$A" m3 master.test --bytes 10) && fail "m3 accepted after revocation: $out"
pass "revocation reloaded and applied to a live connection"

# Pinned client certificates (self-signed, made with the openssl CLI), no CA.
for n in p1 p2; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$n" -keyout "$T/$n.key" -out "$T/$n.pem" 2>/dev/null
done
openssl x509 -in "$T/p1.pem" -noout -fingerprint -sha256 | sed 's/.*=//' >"$T/pins"
spawn server_pin "$ECHO" server --cert "$A/master.pem" --key "$A/master.key" --pinned "$T/pins" --port 0
PORT_PIN=$(port_from "$T/server_pin.log")
out=$("$ECHO" client --cert "$T/p1.pem" --key "$T/p1.key" --ca "$A/ca.pem" \
    --port "$PORT_PIN" --name master.test) || fail "pinned p1 refused: $out"
out=$("$ECHO" client --cert "$T/p2.pem" --key "$T/p2.key" --ca "$A/ca.pem" \
    --port "$PORT_PIN" --name master.test) && fail "unpinned p2 accepted: $out"
grep -q "^connect p2" "$T/server_pin.log" && fail "server accepted unpinned p2"
pass "pinned certificate accepted, unpinned refused"

# Backpressure: a stopped reader; the writer's queue stays under its limit.
out=$("$ECHO" queue --dir "$A" --bytes 67108864) || fail "queue: $out"
echo "$out"
pass "bounded write queue"
