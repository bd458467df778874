#!/bin/bash
# SPDX-License-Identifier: MIT
# The listing policy end to end through the HTTP API on a controllable clock, and every refused input.
. "$(dirname "$0")/../lib.sh"
H=3600000
setclock $T0
write_master_conf "http|max_body = 64K" "policy|threshold = 3" "policy|weight_user = 1" \
    "policy|weight_spamtrap = 2" "policy|relist_grace = 6h"
start_master
rep() { # rep IP SOURCE [TIME_SECONDS]
    local t=${3:-$(($(clock_ms) / 1000))}
    api POST /v1/reports "{\"ip\":\"$1\",\"source\":\"$2\",\"time\":$t}"
}

echo "== threshold: two user reports stay below 3, the third lists"
rep 192.0.2.1 user; expect 200 .accepted 1 .listed 0
api POST /v1/reports "[{\"ip\":\"192.0.2.1\",\"source\":\"user\",\"evidence\":\"e2\"}]"
expect 200 .listed 0
lookup 192.0.2.1; expect 200 .listed false .reports_counted 2 .seconds_to_delisting null .delisting_state not-listed
rep 192.0.2.1 user; expect 200 .listed 1
lookup 192.0.2.1
expect 200 .listed true .reports_counted 3 .listing.listed_since_unix $((T0 / 1000)) \
    .seconds_to_delisting 86400 .delisting_state scheduled .listing.kind policy .listing.a 2

echo "== weights: one spamtrap hit (2) plus one user report (1) list"
rep 192.0.2.2 spamtrap; expect 200 .listed 0
rep 192.0.2.2 user; expect 200 .listed 1
rep 2001:db8::2 spamtrap; rep 2001:db8::2 spamtrap; expect 200 .listed 1
lookup 2001:db8::2; expect 200 .listed true

echo "== publishing: the listing reaches the spool (delay 10 ms, max_delay 50 ms)"
wait_until 10 published_all || fail "not published"
s1=$(master_serial)
[ "$s1" -ge 1 ] || fail "serial $s1"

echo "== time to delisting counts down on the clock; a new report extends it"
setclock $((T0 + 10 * H))
lookup 192.0.2.1; expect 200 .seconds_to_delisting $((14 * 3600))
rep 192.0.2.1 user; expect 200 .extended 1
lookup 192.0.2.1
expect 200 .seconds_to_delisting 86400 .last_report "$(date -u -d @$(((T0 + 10 * H) / 1000)) +%FT%TZ)"
ttd=$("$CTL" lookup 192.0.2.1 --url "$MASTER_URL" --token-file "$T/token" | grep 'time to delisting')
[ "$ttd" = "  time to delisting: in 24 h ($(date -u -d @$(((T0 + 34 * H) / 1000)) '+%F %H:%M') UTC)" ] ||
    fail "blsyncctl lookup: $ttd"

echo "== expiry 24 h after the last report: not a second before"
setclock $((T0 + 34 * H - 1000))
# 192.0.2.2 (reported at T0) expires now: the expiry pass that delists it has
# seen this clock, and must have left 192.0.2.1 listed.
wait_until 10 grep -q "event=expired delisted=[0-9]* decided_ms=$((T0 + 34 * H - 1000)) " "$T/master.log" ||
    fail "no expiry pass at $((T0 + 34 * H - 1000))"
lookup 192.0.2.1; expect 200 .listed true .seconds_to_delisting 1
setclock $((T0 + 34 * H))
wait_until 10 lookup_is 192.0.2.1 .listed false || fail "not delisted at expiry"
lookup 192.0.2.1
expect 200 .delisting.cause expired .delisting.decided_at_ms $((T0 + 34 * H))
# "0" while the delisting propagates; once published (no mirrors here) it is done.
wait_until 10 lookup_is 192.0.2.1 .delisting.published true || fail "delisting not published"
lookup 192.0.2.1; expect 200 .delisting.mirrors_total 0 .delisting.propagated true .seconds_to_delisting null \
    .delisting_state delisted
[ "$(jq -r .delisting.serial "$T/out")" -gt "$s1" ] || fail "delisting serial"
# 192.0.2.2 (reported at T0) expired with it.
lookup 192.0.2.2; expect 200 .listed false .delisting.cause expired

echo "== a propagating delisting answers 0 while a mirror has not acknowledged"
sqlite3 "$T/master.db" "INSERT INTO mirrors VALUES('m1',0,$(clock_ms),$(clock_ms))"
rep 192.0.2.3 spamtrap; rep 192.0.2.3 spamtrap; expect 200 .listed 1
wait_until 10 published_all || fail "not published" # (unpublished listings need no propagation)
api DELETE /v1/listings/192.0.2.3 '{"reason":"technical-error"}'; expect 200
lookup 192.0.2.3; expect 200 .listed false .seconds_to_delisting 0 .delisting_state propagating .delisting.mirrors_total 1 \
    .delisting.mirrors_acked 0
sqlite3 "$T/master.db" "DELETE FROM mirrors"

echo "== operator removal: token, reason, audit, grace"
rep 192.0.2.4 spamtrap; rep 192.0.2.4 user; expect 200 .listed 1
api DELETE /v1/listings/192.0.2.4 '{"reason":"user-error"}' ""
expect_msg 401 "bearer token"
api DELETE /v1/listings/192.0.2.4 '{"reason":"user-error"}' "Bearer wrong"
expect_msg 401 "bearer token"
api DELETE /v1/listings/192.0.2.4 '{}'
expect_msg 422 "needs a reason"
api DELETE /v1/listings/192.0.2.4 '{"reason":"please delist me"}'
expect_msg 422 "technical-error or user-error"
api DELETE "/v1/listings/192.0.2.4?reason=user-error&comment=double%20opt-in" "" ""
expect_msg 401 "bearer"
api DELETE "/v1/listings/192.0.2.4?reason=user-error&comment=double%20opt-in"
expect 200 .removed true .reason user-error
tr=$(clock_ms)
api DELETE /v1/listings/192.0.2.4 '{"reason":"user-error"}'; expect_msg 404 "not listed"
lookup 192.0.2.4
expect 200 .listed false .delisting.cause operator:user-error .reports_counted 0 \
    .relisting_blocked_until "$(date -u -d @$(((tr + 6 * H) / 1000)) +%FT%TZ)"
audit=$(sqlite3 "$T/master.db" "SELECT action||' '||target||' '||reason||' '||detail FROM audit WHERE action='remove' AND target='192.0.2.4'")
[ "$audit" = "remove 192.0.2.4 user-error double opt-in" ] || fail "audit: '$audit'"
echo "== re-listing: not within the grace period; afterwards only new reports count"
rep 192.0.2.4 spamtrap; rep 192.0.2.4 spamtrap; expect 200 .in_grace 1 .listed 0
lookup 192.0.2.4; expect 200 .listed false
setclock $((tr + 7 * H))
rep 192.0.2.4 user; expect 200 .listed 0
lookup 192.0.2.4; expect 200 .reports_counted 1
rep 192.0.2.4 spamtrap; expect 200 .listed 1

echo "== operator listings: prefixes, covering lookups, never expiring"
api POST /v1/listings '{"prefix":"198.51.100.0/24","a":4,"reason":7,"comment":"feed X"}' ""
expect_msg 401 "bearer"
api POST /v1/listings '{"prefix":"198.51.100.0/24","a":4,"reason":7,"comment":"feed X"}'
expect 201 .listed.prefix 198.51.100.0/24 .listed.expires_at null
lookup 198.51.100.77
expect 200 .listed true .listing.prefix 198.51.100.0/24 .listing.a 4 .seconds_to_delisting null \
    .delisting_state until-removed
grep -qx '  time to delisting: never (until an operator removes it)' \
    <<<"$("$CTL" lookup 198.51.100.77 --url "$MASTER_URL" --token-file "$T/token")" || fail "blsyncctl lookup: never"
api POST /v1/listings '{"prefix":"203.0.113.0/24","duration":3600}'
expect 201 .listed.kind manual
"$CTL" list add 2001:db8:1::/48 --url "$MASTER_URL" --token-file "$T/token" >/dev/null ||
    fail "blsyncctl list add"
"$CTL" list remove 2001:db8:1::/48 --reason technical-error --url "$MASTER_URL" \
    --token-file "$T/token" >/dev/null || fail "blsyncctl list remove"
api GET "/v1/listings?limit=2"; expect 200 '.listings|length' 2
next=$(jq -r .next "$T/out")
api GET "/v1/listings?limit=100&after=$next"; expect 200 .next null
# Numbers in a query or path are digits only: no sign, space or tail, nothing cut to fit.
for q in "listings?limit=2x" "listings?limit=%2B2" "listings?limit=%202" "listings?limit=0" \
    "listings?limit=0000000000000002x" "audit?limit=5x" "audit?before=%2B3" "audit?before=0" \
    "audit?since=99999999999999999999" "audit?since=9223372036854776" "audit?since=%2D5"; do
    api GET "/v1/$q"
    [ "$STATUS" = 400 ] || fail "GET /v1/$q: HTTP $STATUS, want 400: $(head -c 200 "$T/out")"
done
api GET "/v1/audit?since=9223372036854775&limit=1"; expect 200 '.entries|length' 0

echo "== refused inputs, each with its reason"
for c in "example.com|domain name" "mail.example.org|domain name" \
    "abuse@example.com|e-mail address" "127.0.0.1|127.0.0.0/8 is loopback" \
    "127.9.9.9|127.0.0.0/8 is loopback" "::1|loopback" "1.2.3|malformed" \
    "1.2.3.256|malformed" "2001:db8:::1|malformed" "192.0.2.0/24|not a prefix" "|empty address"; do
    ip=${c%%|*}
    msg=${c#*|}
    api POST /v1/reports "{\"ip\":\"$ip\",\"source\":\"user\"}"
    expect_msg 422 "$msg"
done
for c in "10.0.0.1/8|host bits" "127.0.0.0/8|loopback" "0.0.0.0/0|whole IPv4 address space" "10.0.0.0/7|wider" \
    "example.net|domain" "x@y.example|e-mail" "10.0.0.0/33|malformed"; do
    api POST /v1/listings "{\"prefix\":\"${c%%|*}\"}"
    expect_msg 422 "${c#*|}"
done
api POST /v1/listings '{"prefix":"192.0.2.128/25","a":1}'; expect_msg 422 "between 2 and 255"
api POST /v1/listings '{"prefix":"192.0.2.128/25","kind":"other"}'; expect_msg 422 "unknown kind"
api POST /v1/reports '{"ip":"192.0.2.9","source":"robot"}'; expect_msg 422 "unknown source"
api POST /v1/reports '{"ip":"192.0.2.9"}'; expect_msg 422 "missing field: source"
api POST /v1/reports "{\"ip\":\"192.0.2.9\",\"source\":\"user\",\"time\":$(($(clock_ms) / 1000 + 3600))}"
expect_msg 422 "in the future"
api POST /v1/reports "{\"ip\":\"192.0.2.9\",\"source\":\"user\",\"time\":$(($(clock_ms) / 1000 - 8 * 86400))}"
expect_msg 422 "older than"
# A batch is all or nothing: one bad item refuses the request and names its index.
api POST /v1/reports '[{"ip":"192.0.2.10","source":"user"},{"ip":"example.com","source":"user"}]'
expect 422 '.refused[0].index' 1 '.refused[0].ip' example.com
lookup 192.0.2.10; expect 200 .reports_total 0
api POST /v1/reports '{"ip":"192.0.2.9","source":"user"'; expect_msg 400 "at byte"
api POST /v1/reports '{"ip":"192.0.2.9","source":"user"} x'; expect_msg 400 "trailing bytes"
api POST /v1/reports '"just a string"'; expect_msg 400 "report object or an array"
api POST /v1/reports '[]'; expect_msg 400 "empty array"
api POST /v1/reports "$(head -c 70000 /dev/zero | tr '\0' ' ')[]"; expect_msg 413 "larger than"
api POST /v1/reports '{"ip":"192.0.2.9","source":"user"}' ""; expect_msg 401 "bearer token"
api GET /v1/reports; expect_msg 405 "use POST"
# a 405 names the methods the endpoint takes in Allow (RFC 9110 15.5.6)
allow_of() { curl -sS --max-time 5 -o /dev/null -D - -X "$1" -H "Authorization: Bearer $TOK" "$MASTER_URL$2" | tr -d '\r' | sed -n 's/^Allow: //Ip'; }
[ "$(allow_of GET /v1/reports)" = POST ] || fail "GET /v1/reports: Allow '$(allow_of GET /v1/reports)'"
[ "$(allow_of PUT /v1/listings)" = "GET, HEAD, POST" ] || fail "PUT /v1/listings: Allow '$(allow_of PUT /v1/listings)'"
[ "$(allow_of GET /v1/listings/192.0.2.1)" = DELETE ] || fail "GET /v1/listings/IP: Allow '$(allow_of GET /v1/listings/192.0.2.1)'"
[ "$(allow_of POST /v1/health)" = "GET, HEAD" ] || fail "POST /v1/health: Allow '$(allow_of POST /v1/health)'"
api GET /v1/nothing; expect_msg 404 "no such endpoint"
lookup example.com; expect_msg 400 "domain name"
lookup 127.0.0.1; expect_msg 400 "loopback"
lookup 127.0.0.2; expect 200 .listed false

echo "== offline imports into the running master's store: rbldnsd ip4set, reports file"
cat >"$T/data.ip4set" <<'DATA'
:2:Listed, see http://example.org/$
# a comment
203.0.113.5
203.0.113.64/26 :3:
10.1.0.0-10.1.1.255
!203.0.113.70
127.0.0.1
DATA
out=$("$CTL" import-rbldnsd "$T/data.ip4set" -c "$T/master.conf" 2>&1) && fail "a refused line must fail the import"
[[ "$out" == *"data.ip4set:7: 127.0.0.1: 127.0.0.0/8 is loopback"* ]] || fail "import: $out"
[[ "$out" == *"exclusion"* ]] || fail "import: $out"
[[ "$out" == *"imported 3 entries (3 new, 0 removed), refused 1, exclusions skipped 1, bad lines skipped 0"* ]] ||
    fail "import: $out"
wait_until 10 published_all || fail "imported listings not published"
lookup 203.0.113.77; expect 200 .listed true .listing.prefix 203.0.113.64/26 .listing.a 3 \
    .listing.kind import
lookup 10.1.1.9; expect 200 .listed true .listing.prefix 10.1.0.0/23
printf '203.0.113.5\n' >"$T/data2.ip4set"
grep -q "2 removed" <<<"$("$CTL" import-rbldnsd "$T/data2.ip4set" -c "$T/master.conf" --replace)" ||
    fail "import --replace"
lookup 10.1.1.9; expect 200 .listed false .delisting.cause import:removed
# bad lines: skipped, named and counted by default (as rbldnsd loads the rest); --strict refuses
printf '10.9.0.1\n10.9.0.300\n10.9.0.129/25\n10.9.0.2 :4:\n' >"$T/bad.ip4set"
out=$("$CTL" import-rbldnsd "$T/bad.ip4set" -c "$T/master.conf" --strict 2>&1) && fail "--strict took a bad line: $out"
[[ "$out" == *"bad.ip4set:2: invalid address"* && "$out" == *"nothing imported"* ]] || fail "--strict: $out"
lookup 10.9.0.1; expect 200 .listed false
out=$("$CTL" import-rbldnsd "$T/bad.ip4set" -c "$T/master.conf" 2>&1) && fail "skipped lines must show in the exit code"
[[ "$out" == *"bad.ip4set:2: invalid address (line skipped)"* ]] || fail "bad line 2 not named: $out"
[[ "$out" == *"bad.ip4set:3: invalid range (non-zero host part) (line skipped)"* ]] || fail "host bits: $out"
[[ "$out" == *"imported 2 entries (2 new, 0 removed), refused 0, exclusions skipped 0, bad lines skipped 2"* ]] ||
    fail "import with bad lines: $out"
wait_until 10 published_all || fail "imported listings not published"
lookup 10.9.0.2; expect 200 .listed true .listing.a 4
lookup 10.9.0.130; expect 200 .listed false
printf '%s\n' '{"ip":"192.0.2.150","source":"spamtrap"}' '# comment' '' \
    '{"ip":"192.0.2.150","source":"spamtrap","evidence":"imp-1"}' '{"ip":"bad.example","source":"user"}' \
    >"$T/reports.jsonl"
out=$("$CTL" import-reports "$T/reports.jsonl" -c "$T/master.conf" 2>&1) &&
    fail "a refused report must fail the import"
[[ "$out" == *"reports.jsonl:5:"*"domain name"* && "$out" == *"imported 2 reports (1 new listings), refused 1"* ]] ||
    fail "import-reports: $out"
lookup 192.0.2.150; expect 200 .listed true .reports_total 2

echo "== configuration errors name file and line"
conf_error() { # LINES MESSAGE: --check-config refuses a file of LINES (printf %b), saying MESSAGE
    local out
    printf '%b' "$1" >"$T/bad.conf"
    out=$("$MASTER" -c "$T/bad.conf" --check-config 2>&1) && fail "bad config accepted: $1"
    [[ "$out" == *"$2"* ]] || fail "config: $out"
}
conf_error '[master]\nfeed = main\n[policy]\nthreshold = many\n' \
    "bad.conf:4: threshold = many: not a decimal number"
conf_error '[master]\nfeed = main\n[nonsense]\nx = 1\n' "bad.conf:4: unknown section [nonsense]"
conf_error '[publisher]\nkey = /nonexistent/k.key\n' "key /nonexistent/k.key: No such file or directory"
conf_error '[publisher]\ndelay = soon\n' "bad.conf:2: delay = soon: not a number; expected a duration"
"$MASTER" -c "$T/master.conf" --check-config >/dev/null || fail "good config refused"
grep -q "blsync-master" <<<"$("$MASTER" --version)" || fail "--version"

echo "== the spool verifies and the chain rebuilds the store"
wait_until 10 published_all || fail "not published"
stop_master
for f in "$T"/spool/main/*.delta "$T"/spool/main/*.snap; do
    "$CTL" verify "$f" --key "$T/sign.pub" >/dev/null || fail "$f does not verify"
done
"$CHK" "$T/master.db" "$T/spool/main" "$T/sign.pub" || fail "chain check"
grep -q "event=stopped" "$T/master.log" || fail "no graceful stop"
echo "PASS"
