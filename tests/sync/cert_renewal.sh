#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TLS certificates through their life, as docs/OPERATIONS.md says: a real master and mirror over
# the push path, the mirror's certificate issued for 10 days. Both daemons log the certificate
# they present at start (a warning within 21 days of expiry) and export its notAfter; the master
# exports each connected mirror's. A renewal is installed with a SIGHUP, no restart: the mirror
# reconnects to present its new certificate (the master's gauge moves), the master presents its
# new one at the next handshake. A wrong certificate or a damaged key at a SIGHUP is logged and
# changes nothing: the certificate in use stays, and the next sessions are still made with it.
. "$(dirname "$0")/../lib.sh"

pki m1
"$CTL" certs --dir "$T/pki" --mirror m1 --days 10 --force >/dev/null
write_master_conf
start_master
list 192.0.2.1
S=$(wait_published 0)
start_mirror m1
wait_until 20 synced m1 || fail "m1 did not reach serial $S"

enddate() { date -u -d "$(openssl x509 -noout -enddate -in "$1" | cut -d= -f2)" +%s; }
gauge() { metric "$1" "$2" | awk '{ printf "%d", $1 }'; }
MIRROR_CERT=blsync_master_mirror_certificate_expiry_timestamp_seconds{mirror=\"m1\"}
mirror_cert_is() { [ "$(gauge master "$MIRROR_CERT")" = "$1" ]; }
own_cert_is() { # WHO VALUE
    local f=blsync_mirror_certificate_expiry_timestamp_seconds
    [ "$1" != master ] || f=blsync_master_certificate_expiry_timestamp_seconds
    [ "$(gauge "$1" $f)" = "$2" ]
}

# At start: what each presents, in the log and the metrics, to the second.
E1=$(enddate "$T/pki/mirror-m1.pem")
EM=$(enddate "$T/pki/master.pem")
[ $((E1 - $(date +%s))) -gt $((9 * 86400)) ] || fail "m1's certificate is not for 10 days"
since m1 | grep 'event=tls_certificate' | grep -Eq 'level=warn.*days_left=(9|10)$' ||
    fail "m1 did not warn of its certificate's 10 days left: $(since m1 | grep tls_certificate)"
since master | grep 'event=tls_certificate' | grep -q 'level=info.*name=master.test.*days_left=82[45]' ||
    fail "master's certificate not logged: $(since master | grep tls_certificate)"
wait_until 10 own_cert_is m1 "$E1" || fail "m1 exports $(gauge m1 blsync_mirror_certificate_expiry_timestamp_seconds), not $E1"
wait_until 10 own_cert_is master "$EM" || fail "master exports its certificate's expiry wrong"
wait_until 10 mirror_cert_is "$E1" || fail "master exports m1's certificate expiry as $(gauge master "$MIRROR_CERT"), not $E1"
ok "both daemons export the certificates' expiry (m1: $(((E1 - $(date +%s)) / 86400)) days)"

# The mirror's renewal: a new certificate in place, a SIGHUP. The mirror reconnects with it.
mpid=${PID[m1]}
"$CTL" certs --dir "$T/pki" --mirror m1 --force >/dev/null
E2=$(enddate "$T/pki/mirror-m1.pem")
[ "$E2" -gt "$E1" ] || fail "the renewal did not extend m1's certificate"
mark m1
mark master
kill -HUP "$mpid"
wait_until 10 logged m1 'event=tls_reloaded' || fail "m1 did not reload its certificate"
wait_until 10 logged m1 'event=sync_connected' || fail "m1 did not reconnect with its new certificate"
wait_until 10 mirror_cert_is "$E2" || fail "the master still sees m1's old certificate"
wait_until 10 own_cert_is m1 "$E2" || fail "m1 still exports its old certificate's expiry"
[ "${PID[m1]}" = "$mpid" ] && running m1 || fail "m1 restarted"
list 192.0.2.2
S=$(wait_published "$S")
wait_until 20 synced m1 || fail "m1 did not follow after the renewal"
dq m1 2.2.0.192.$ZONE A | grep -q 127.0.0.2 || fail "m1 does not answer the new listing"
ok "the mirror's renewal took effect with a SIGHUP, and it follows on"

# The master's renewal: the next handshake presents the new certificate.
"$CTL" certs --dir "$T/pki" --master-name master.test --days 30 --force >/dev/null
EM2=$(enddate "$T/pki/master.pem")
cp "$T/pki/mirror-m1.pem" "$T/m1.pem.good"
presented() { # the notAfter the sync port presents to a mirror now
    openssl s_client -connect "127.0.0.1:$SYNC_PORT" -servername master.test -tls1_3 \
        -cert "$T/m1.pem.good" -key "$T/pki/mirror-m1.key" -CAfile "$T/pki/ca.pem" \
        </dev/null 2>/dev/null | openssl x509 -noout -enddate 2>/dev/null | cut -d= -f2
}
presents() { [ "$(date -u -d "$(presented)" +%s 2>/dev/null)" = "$1" ]; }
presents "$EM" || fail "the sync port does not present the master's first certificate"
mark master
kill -HUP "${PID[master]}"
wait_until 10 logged master 'event=tls_reloaded' || fail "the master did not reload its certificate"
since master | grep 'event=tls_reloaded' | grep -Eq 'level=info.*days_left=(29|30)$' ||
    fail "the master's reload does not log its new certificate: $(since master | grep tls_reloaded)"
wait_until 10 presents "$EM2" || fail "the sync port still presents the old certificate"
wait_until 10 own_cert_is master "$EM2" || fail "the master exports its old certificate's expiry"
ok "the master's renewal took effect with a SIGHUP"

# A wrong certificate or a damaged key at a SIGHUP: logged, nothing changes, sessions are still made.
# (another mirror's certificate, which does not match m1's key: a PEM file the configuration
# check takes, which only loading it with the key refuses)
"$CTL" certs --dir "$T/pki" --mirror m2 >/dev/null
cp "$T/pki/mirror-m2.pem" "$T/pki/mirror-m1.pem"
mark m1
kill -HUP "${PID[m1]}"
wait_until 10 logged m1 'event=tls_reload_failed' || fail "m1 did not report the wrong certificate"
own_cert_is m1 "$E2" || fail "m1's exported expiry changed after a failed reload"
cp "$T/pki/master.key" "$T/master.key.good"
echo "not a key" >"$T/pki/master.key"
# systemctl reload runs the configuration check first: it refuses the files and sends no signal.
if "$MASTER" --check-config -c "$T/master.conf" >"$T/check.out" 2>&1; then
    fail "--check-config took a damaged key"
fi
grep -q 'tls_key .* unusable' "$T/check.out" || fail "--check-config: $(cat "$T/check.out")"
mark master
kill -HUP "${PID[master]}"
wait_until 10 logged master 'event=tls_reload_failed' || fail "the master did not report the damaged key"
presents "$EM2" || fail "the master's sync port lost its certificate after a failed reload"
# Both still make sessions with what they hold: the master restarts (from its good files), the
# mirror reconnects with the certificate in its memory.
cp "$T/master.key.good" "$T/pki/master.key"
stop_master
mark m1
start_master
wait_until 20 logged m1 'event=sync_connected' || fail "m1 did not reconnect after a failed reload"
wait_until 10 mirror_cert_is "$E2" || fail "m1 reconnected without its certificate in use"
ok "a damaged file at a SIGHUP is reported and the certificate in use stays"
finish
