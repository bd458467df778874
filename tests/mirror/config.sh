#!/bin/bash
# SPDX-License-Identifier: MIT
# Configuration: --version, --check-config, errors that name file:line, command-line overrides.
. "$(dirname "$0")/../lib.sh"

grep -q "^blsync-mirror [0-9]" <<<"$("$MIRROR" --version)" || fail "--version"
if "$MIRROR" > /dev/null 2>&1; then fail "no -c should be a usage error"; fi
out=$("$MIRROR" -c /dev/null --frobnicate 2>&1) && fail "an unknown argument was accepted"
grep -q "unknown or incomplete argument '--frobnicate'" <<<"$out" || fail "unknown argument message: $out"
ok "--version and usage"

echo "10.0.0.0/8" > "$T/data"
cat > "$T/good.conf" <<CONF
# a comment
[server]
listen = 127.0.0.1:5353
threads = 3
tcp_max_connections_per_client = 4
tcp_query_timeout_ms = 500
tcp_max_pipelined = 16

[zone bl.example.org]
rbldnsd = ip4set:$T/data
ttl = 5m
CONF
grep -q "configuration ok (1 zone)" <<<"$("$MIRROR" -c "$T/good.conf" --check-config)" || fail "good config refused"
ok "--check-config accepts a good file"

check_err() { # FILE-CONTENT EXPECTED-MESSAGE-REGEX
    printf '%s\n' "$1" > "$T/bad.conf"
    local out
    if out=$("$MIRROR" -c "$T/bad.conf" --check-config 2>&1); then
        fail "accepted: $1"
    fi
    grep -qE "$2" <<<"$out" || fail "message '$out' does not match '$2'"
}
check_err "[server]
listen = 127.0.0.1:53
threads = lots" "bad.conf:3: threads = lots: not a number; expected a whole number from 1 to 64"
check_err "[server]
bogus = 1" "bad.conf:2: unknown key 'bogus' in \\[server\\]"
check_err "[server]
tcp_max_connections_per_client = 0" "bad.conf:2: tcp_max_connections_per_client = 0: out of range; expected a whole number from 1 to 65535"
check_err "[server]
tcp_query_timeout_ms = 50" "bad.conf:2: tcp_query_timeout_ms = 50: out of range; expected a whole number from 100 to 60000"
check_err "[server]
tcp_max_pipelined = 5000" "bad.conf:2: tcp_max_pipelined = 5000: out of range; expected a whole number from 1 to 1024"
check_err "[zone bl.example.org]
ttl = -5" "bad.conf:2: ttl = -5: not a number; expected a duration"
check_err "[server]
listen = 127.0.0.1:53
[zone bl.example.org]
rbldnsd = ip4set:$T/data
snapshot = /x" "a zone serves either a feed or rbldnsd files"
check_err "[server]
listen = 127.0.0.1:53
[zone bl.example.org]
snapshot = /nonexistent" "needs at least one trusted_key"
check_err "[server]
listen = 127.0.0.1:53
this is not ini" "bad.conf:3: syntax error"
check_err "[server]
listen = 127.0.0.1:53
[zone bl.example.org]
a = 300
rbldnsd = ip4set:$T/data" "bad.conf:4: a = 300: out of range; expected 127.0.0.N or N, with N from 1 to 255"
# a bad data line is skipped, as rbldnsd skips it, and named with its file and line
printf '10.0.0.0/8\n10.300.0.0/16\n203.0.113.129/25\n' > "$T/baddata"
printf '[server]\nlisten = 127.0.0.1:53\n[zone bl.example.org]\nrbldnsd = ip4set:%s\n' "$T/baddata" > "$T/bad.conf"
out=$("$MIRROR" -c "$T/bad.conf" --check-config 2>&1) || fail "bad data lines refused the whole file: $out"
grep -q "event=rbldnsd_bad_line .*file=$T/baddata line=2 msg=\"invalid address\"" <<<"$out" || fail "bad line 2 not named: $out"
grep -q "line=3 msg=\"invalid range (non-zero host part)\"" <<<"$out" || fail "host bits not refused: $out"
grep -q "records=1 .*bad_lines=2" <<<"$out" || fail "bad lines not counted: $out"
# A values outside 127.0.0.0/24 are served; past the 255th distinct one of a zone a line is
# skipped and named (the second file's line with a 256th value), one already seen still serves
{ echo ':127.0.1.2:dflt'; echo '10.0.0.1'; for i in $(seq 1 254); do echo "10.0.1.$i :1.1.1.$i"; done; } >"$T/avals1"
printf '10.0.2.1 :2.2.2.2\n10.0.2.2 :1.1.1.7\n10.0.3.0-10.0.3.9 :3.3.3.3\n' >"$T/avals2"
printf '[server]\nlisten = 127.0.0.1:53\n[zone bl.example.org]\nrbldnsd = ip4set:%s\nrbldnsd = ip4set:%s\n' \
    "$T/avals1" "$T/avals2" >"$T/bad.conf"
out=$("$MIRROR" -c "$T/bad.conf" --check-config 2>&1) || fail "too many A values refused the zone: $out"
grep -q "event=rbldnsd_bad_line .*file=$T/avals2 line=1 msg=\"A value 2.2.2.2: the zone has 255 other A values, the most a zone may have (line skipped)\"" <<<"$out" ||
    fail "the 256th A value not named: $out"
grep -q "file=$T/avals2 line=3 msg=\"A value 3.3.3.3" <<<"$out" || fail "range line past the A values not named: $out"
[ "$(grep -c "file=$T/avals2 line=3" <<<"$out")" = 1 ] || fail "a range line named more than once: $out"
grep -q "event=import .*records=256 .*bad_lines=2 .*a_values=255" <<<"$out" || fail "A values not counted: $out"
check_err "[server]
listen = 127.0.0.1:53
[zone bl.example.org]
rbldnsd = ip4set:$T/missing" "missing: No such file"
check_err "[server]
listen = 127.0.0.1:53
[zone bl.example.org]
rbldnsd = ip4set:$T/data
colour = blue" "bad.conf:5: unknown key 'colour' in \\[zone bl.example.org\\]"
check_err "[server]
listen = 127.0.0.1:53
[mystery]
x = 1" "bad.conf:4: unknown section \\[mystery\\]"
check_err "[server]
listen = 127.0.0.1:99999
[zone bl.example.org]
rbldnsd = ip4set:$T/data" "bad.conf:2: listen = 127.0.0.1:99999: bad port"
check_err "[server]
listen = 300.1.1.1:53
[zone bl.example.org]
rbldnsd = ip4set:$T/data" "bad.conf:2: listen = 300.1.1.1:53: not an IP address"
check_err "[server]
listen = 127.0.0.1:53
[zone bl..example.org]
rbldnsd = ip4set:$T/data" "bad.conf:4: zone 'bl..example.org': not a valid domain name"
# a line longer than the limit names its own line and says so
long=$(printf 'x%.0s' $(seq 5000))
check_err "[server]
listen = 127.0.0.1:53
[zone bl.example.org]
txt = $long
rbldnsd = ip4set:$T/data" "bad.conf:4: line longer than 4094 characters"
ok "errors name file:line:problem"

# [sync]: addresses, files and limits are checked before anything starts.
pki m1
sync_conf() { # extra [sync] lines...
    printf '[server]\nlisten = 127.0.0.1:53\n[sync]\nmaster = 127.0.0.1:7353\nserver_name = master.test\n'
    printf 'state_dir = %s\n' "$T/state"
    for l in "$@"; do printf '%s\n' "$l"; done
    printf '[zone bl.example.org]\nfeed = main\ntrusted_key = %s\n' "$T/sign.pub"
}
CERT="cert = $T/pki/mirror-m1.pem"
KEY="key = $T/pki/mirror-m1.key"
CA="ca = $T/pki/ca.pem"
sync_conf "$CERT" "$KEY" "$CA" > "$T/sync.conf"
grep -q "configuration ok (1 zone)" <<<"$("$MIRROR" -c "$T/sync.conf" --check-config)" ||
    fail "a zone whose only source is [sync] refused"
check_err "$(sync_conf "$CERT" "key = $T/pki/nope.key" "$CA")" "bad.conf:8: key $T/pki/nope.key: No such file"
printf 'garbage\n' > "$T/pki/garbage.pem"
check_err "$(sync_conf "cert = $T/pki/garbage.pem" "$KEY" "$CA")" "bad.conf:7: cert $T/pki/garbage.pem: not a PEM file"
check_err "$(sync_conf "cert = $T/pki" "$KEY" "$CA")" "bad.conf:7: cert $T/pki: unreadable"
check_err "$(sync_conf "cert = $T/pki/ca.pem" "$KEY" "$CA")" "\\[sync\\]: cert .* unusable"
check_err "$(sync_conf "$CERT" "$KEY")" "\\[sync\\] needs ca = FILE"
check_err "$(sync_conf "$CERT" "$KEY" "$CA" "master = 127.0.0.1:70000")" "bad.conf:10: master = 127.0.0.1:70000: bad port"
check_err "$(sync_conf "$CERT" "$KEY" "$CA" "stale_after = 10m" "freeze_after = 1m")" "freeze_after must be longer than stale_after"
check_err "$(sync_conf "$CERT" "$KEY" "$CA" "stale_after = soon")" "bad.conf:10: stale_after = soon: not a number; expected a duration"
check_err "$(sync_conf "$CERT" "$KEY" "$CA" "colour = blue")" "bad.conf:10: unknown key 'colour' in \\[sync\\]"
# The sample's [sync] block, with this test's files, is valid.
sed -e "s#/etc/blsync/tls/mirror.pem#$T/pki/mirror-m1.pem#" \
    -e "s#/etc/blsync/tls/mirror.key#$T/pki/mirror-m1.key#" -e "s#/etc/blsync/tls/ca.pem#$T/pki/ca.pem#" \
    -e "s#/etc/blsync/master.pub#$T/sign.pub#" -e "s#/var/lib/blsync-mirror/sync#$T/state#" \
    "$BL_SRC/deploy/blsync-mirror.conf" > "$T/sample-sync.conf"
grep -q '^master = ' "$T/sample-sync.conf" || fail "sample has no [sync] master"
out=$("$MIRROR" -c "$T/sample-sync.conf" --check-config 2>&1) || fail "sample with [sync]: $out"
ok "[sync] errors: missing key file, unreadable or wrong certificate, bad master address, limits"

# A zone that combines feeds, beside the zone of one of them: each feed after
# the first names its own A value, distinct from the zone's a.
combined() { # feed = VALUE, then more lines of its zone
    sync_conf "$CERT" "$KEY" "$CA"
    printf '[zone all.example.org]\ntrusted_key = %s\nfeed = %s\n' "$T/sign.pub" "$1"
    shift
    for l in "$@"; do printf '%s\n' "$l"; done
}
combined "main spamtrap:127.0.0.4" > "$T/combined.conf"
grep -q "configuration ok (2 zones)" <<<"$("$MIRROR" -c "$T/combined.conf" --check-config)" ||
    fail "a zone combining main and spamtrap:127.0.0.4 refused"
check_err "$(combined "main spamtrap")" "bad.conf:15: feed = main spamtrap: every feed after the first needs its own A value"
check_err "$(combined "main spamtrap:127.0.0.4" "a = 4")" "bad.conf:15: zone all.example.org: feed spamtrap answers 127.0.0.4, the A value of feed main \\(the zone's a\\)"
check_err "$(combined "main spamtrap:4" "export_rbldnsd = $T/x")" "bad.conf:15: zone all.example.org combines feeds: export_rbldnsd"
ok "combined zones: feed = main spamtrap:127.0.0.4 accepted; a missing or shared A value and an export refused with file:line"

# command-line overrides: --listen, --threads, --set
write_mirror_conf m1 --files "server|listen = 127.0.0.1:1"
cat >>"$T/m1/mirror.conf" <<CONF
[zone bl.example.org]
rbldnsd = ip4set:$T/data
ttl = 100
CONF
PORT=${DNS_PORT[m1]}
# a TXT template as long as rbldnsd allows (255 bytes) fits on its line
tmpl="$(printf 'T%.0s' $(seq 250)) \$"
cat >>"$T/m1/mirror.conf" <<CONF
[zone long.example.org]
rbldnsd = ip4set:$T/data
txt = $tmpl
CONF
start_mirror m1 --listen 127.0.0.1:$PORT --threads 2 --set "zone bl.example.org:ttl=77" --set "zone:txt=Over \$"
txt=$(dq m1 +short 2.0.0.127.long.example.org TXT | tr -d '"')
[ "$txt" = "$(printf 'T%.0s' $(seq 250)) 127" ] || fail "the long TXT template is not answered whole (254 bytes): $txt"
logged m1 "addr=127.0.0.1:$PORT threads=2" || fail "--listen/--threads not applied"
grep -qx 77 <<<"$(dq m1 +noall +answer 1.0.0.10.bl.example.org A | awk '{print $2}')" || fail "--set ttl not applied"
out=$("$MIRROR" -c "$T/m1/mirror.conf" --set "server:nope=1" --check-config 2>&1) && fail "--set server:nope accepted"
grep -qF -- "--set server:nope=1: unknown key 'nope' in [server]" <<<"$out" || fail "--set error message: $out"
ok "command-line overrides"
# A second server on the same port is refused, not load-balanced by SO_REUSEPORT.
out=$("$MIRROR" -c "$T/m1/mirror.conf" --listen 127.0.0.1:$PORT 2>&1) && fail "a second mirror bound port $PORT"
grep -q "another server holds this port" <<<"$out" || fail "port clash message: $out"
ok "a port held by another server is refused"
stop_clean m1
echo PASS
