#!/bin/bash
# SPDX-License-Identifier: MIT
# Addresses nobody should list (issue 14, point 6), through every way in: API reports, operator
# listings and lookups, blsyncctl report / list add / lookup, import-rbldnsd and import-reports.
# Each is refused with its own message and counted; no mirror ever answers for one. Also: a
# report's refusal names its ip, the bearer scheme is case-insensitive, an IPv4-mapped address
# is listed as its IPv4 address, and a listing made before the rules can still be removed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/attack.sh"
setup
# address|the start of its refusal message
CASES=(
    "0.0.0.0|unspecified address (0.0.0.0)"
    "255.255.255.255|limited broadcast address"
    "224.0.0.1|multicast (224.0.0.0/4)"
    "239.1.2.3|multicast (224.0.0.0/4)"
    "240.0.0.1|reserved (240.0.0.0/4"
    "0.1.2.3|\"this network\" (0.0.0.0/8"
    "127.0.0.1|127.0.0.0/8 is loopback"
    "::|unspecified address (::)"
    "::1|loopback address"
    "ff02::1|multicast (ff00::/8)"
    "::5.6.7.80|IPv4-compatible address"
    "::ffff:224.0.0.1|multicast (224.0.0.0/4)"
)
# Prefixes an operator might try.
PCASES=(
    "0.0.0.0/0|0.0.0.0/0 is the whole IPv4 address space"
    "::/0|::/0 is the whole IPv6 address space"
    "0.0.0.0/8|\"this network\" (0.0.0.0/8"
    "224.0.0.0/8|multicast (224.0.0.0/4)"
    "ff00::/32|multicast (ff00::/8)"
    "::ffff:0:0/96|0.0.0.0/0 is the whole IPv4 address space"
)
why() { jq -r '.refused[0].error // .error' "$T/out"; }
starts() { [[ "$1" == "$2"* ]]; }
n=0
for c in "${CASES[@]}"; do
    ip=${c%%|*} msg=${c#*|}
    api POST /v1/reports "{\"ip\":\"$ip\",\"source\":\"spamtrap\"}"
    { [ "$STATUS" = 422 ] && starts "$(why)" "$msg"; } ||
        problem "report of $ip: HTTP $STATUS $(cat "$T/out"), want 422 '$msg'"
    [ "$(jq -r '.refused[0].ip' "$T/out")" = "$ip" ] || problem "refusal of $ip does not name it"
    api POST /v1/listings "{\"prefix\":\"$ip\"}"
    { [ "$STATUS" = 422 ] && starts "$(why)" "$msg"; } ||
        problem "listing of $ip: HTTP $STATUS $(cat "$T/out"), want 422 '$msg'"
    api GET "/v1/lookup/$ip"
    { [ "$STATUS" = 400 ] && starts "$(why)" "$msg"; } ||
        problem "lookup of $ip: HTTP $STATUS $(cat "$T/out"), want 400 '$msg'"
    out=$("$CTL" report "$ip" spamtrap --url "$MASTER_URL" 2>&1) &&
        problem "blsyncctl report $ip succeeded"
    [[ "$out" == *"$ip: $msg"* ]] || problem "blsyncctl report $ip said: $out"
    out=$(BLSYNC_TOKEN=$TOK "$CTL" list add "$ip" --url "$MASTER_URL" 2>&1) &&
        problem "blsyncctl list add $ip succeeded"
    [[ "$out" == *"$ip: $msg"* ]] || problem "blsyncctl list add $ip said: $out"
    n=$((n + 1))
done
for c in "${PCASES[@]}"; do
    p=${c%%|*} msg=${c#*|}
    api POST /v1/listings "{\"prefix\":\"$p\"}"
    { [ "$STATUS" = 422 ] && starts "$(why)" "$msg"; } ||
        problem "listing of $p: HTTP $STATUS $(cat "$T/out"), want 422 '$msg'"
    out=$(BLSYNC_TOKEN=$TOK "$CTL" list add "$p" --url "$MASTER_URL" 2>&1) &&
        problem "blsyncctl list add $p succeeded"
    [[ "$out" == *"$p: $msg"* ]] || problem "blsyncctl list add $p said: $out"
    n=$((n + 1))
done
pass "$n addresses and prefixes refused by the API (reports, listings, lookups) and blsyncctl, each with its own message"
for c in "192.0.2.1/32" "2001:db8::1/128" "198.51.100.0/24"; do
    api POST /v1/reports "{\"ip\":\"$c\",\"source\":\"user\"}"
    { [ "$STATUS" = 422 ] && starts "$(why)" "expected one IP address, not a prefix"; } ||
        problem "report of $c: HTTP $STATUS $(cat "$T/out")"
done
pass "a prefix in a report is refused, /32 and /128 included"
for w in unspecified broadcast multicast reserved this_network loopback ipv4_compatible prefix; do
    [ "$(metric master "blsync_master_reports_refused_total{reason=\"$w\"}")" -ge 1 ] 2>/dev/null ||
        problem "report refusal $w not counted"
done
pass "report refusals counted by reason: $(scrape master | sed -n 's/^blsync_master_reports_refused_total{reason="\(.*\)"} \(.*\)/\1=\2/p' | tr '\n' ' ')"

echo "== a refusal names the ip it refused; the bearer scheme is case-insensitive"
api POST /v1/reports '{"ip":"192.0.2.5","source":"user","colour":"red"}'
[ "$STATUS" = 422 ] && [ "$(jq -r '.refused[0].ip' "$T/out")" = 192.0.2.5 ] ||
    problem "unknown field: $(cat "$T/out")"
for scheme in bearer BEARER "Bearer  "; do
    code=$(curl -s -o "$T/out" -w '%{http_code}' -H "Authorization: $scheme $TOK" \
        --data-binary '{"ip":"192.0.2.6","source":"user"}' "$MASTER_URL/v1/reports")
    [ "$code" = 200 ] || problem "Authorization: '$scheme': HTTP $code $(cat "$T/out")"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Basic $TOK" \
    --data-binary '{"ip":"192.0.2.6","source":"user"}' "$MASTER_URL/v1/reports")
[ "$code" = 401 ] || problem "Authorization: Basic: HTTP $code"
pass "unknown field refused with \"ip\":\"192.0.2.5\"; bearer, BEARER and two spaces accepted; Basic refused"

echo "== an IPv4-mapped address is listed, looked up and removed as its IPv4 address"
api POST /v1/reports '{"ip":"::ffff:198.51.100.80","source":"spamtrap"}'
[ "$STATUS" = 200 ] || problem "mapped report: HTTP $STATUS $(cat "$T/out")"
wait_until 5 all_answer 198.51.100.80 127.0.0.2 m1 m2 || problem "the mapped report did not list 198.51.100.80"
api GET /v1/lookup/::ffff:198.51.100.80
[ "$(jq -r .listing.prefix "$T/out")" = 198.51.100.80 ] || problem "mapped lookup: $(cat "$T/out")"
api DELETE "/v1/listings/::ffff:198.51.100.80?reason=user-error"
[ "$STATUS" = 200 ] || problem "mapped removal: HTTP $STATUS $(cat "$T/out")"
wait_until 5 all_answer 198.51.100.80 nx m1 m2 || problem "the mapped removal did not reach the mirrors"
pass "::ffff:198.51.100.80 listed, looked up and removed as 198.51.100.80 on both mirrors"

echo "== imports refuse them too"
printf '%s\n' 0.0.0.0 255.255.255.255 224.0.0.1 0.0.0.0/0 127.0.0.5 192.0.2.99 >"$T/data.ip4set"
out=$("$CTL" import-rbldnsd "$T/data.ip4set" --db "$T/import.db" 2>&1) &&
    problem "import-rbldnsd reported success: $out"
for c in "0.0.0.0|unspecified address" "255.255.255.255|limited broadcast" \
    "224.0.0.1|multicast" "0.0.0.0/0|0.0.0.0/0 is the whole" "127.0.0.5|127.0.0.0/8 is loopback"; do
    [[ "$out" == *"${c%%|*}: ${c#*|}"* ]] || problem "import-rbldnsd: no refusal of ${c%%|*}: $out"
done
[[ "$out" == *"imported 1 entries"*"refused 5"* ]] || problem "import-rbldnsd: $out"
printf '%s\n' '{"ip":"0.0.0.0","source":"user"}' '{"ip":"::","source":"user"}' \
    '{"ip":"192.0.2.1/32","source":"user"}' '{"ip":"192.0.2.98","source":"user"}' >"$T/reports.jsonl"
out=$("$CTL" import-reports "$T/reports.jsonl" --db "$T/import.db" 2>&1) &&
    problem "import-reports reported success: $out"
[[ "$out" == *"unspecified address (0.0.0.0)"*"unspecified address (::)"*"not a prefix"*"imported 1 reports"*"refused 3"* ]] ||
    problem "import-reports: $out"
pass "import-rbldnsd and import-reports refuse them with the same messages"

echo "== listings made before the rules: answered until removed, and removable"
stop_master
"$B/tests/attack/attack_legacy_listing" "$T/master.db" 0.0.0.0 224.0.0.1 ::ffff:198.51.100.81 ||
    fail "legacy listings"
start_master
wait_until 5 all_answer 0.0.0.0 127.0.0.2 m1 m2 || problem "the legacy 0.0.0.0 listing did not reach the mirrors"
for p in 0.0.0.0 224.0.0.1 ::ffff:198.51.100.81; do
    api DELETE "/v1/listings/$p?reason=technical-error"
    [ "$STATUS" = 200 ] || problem "removal of the legacy $p: HTTP $STATUS $(cat "$T/out")"
done
# 0.0.0.0.bl.test is also an empty non-terminal of the IPv6 test entry ::ffff:127.0.0.2 (RFC
# 5782), whose reversed name ends in it: unlisted, it is NODATA, not NXDOMAIN.
unlisted() { # IP: no mirror has an address for it
    local m a
    for m in m1 m2; do
        a=$(answer "$m" "$1")
        [ "$a" = nx ] || [ "$a" = nodata ] || return 1
    done
}
wait_until 5 unlisted 0.0.0.0 || problem "a mirror still answers for 0.0.0.0: $(answer m1 0.0.0.0)"
wait_until 5 all_answer 224.0.0.1 nx m1 m2 || problem "a mirror still answers for 224.0.0.1"
api GET /v1/listings
[ "$(jq -c '[.listings[].prefix] - ["192.0.2.6"]' "$T/out")" = "[]" ] ||
    problem "listings left: $(cat "$T/out")"
pass "legacy 0.0.0.0, 224.0.0.1 and ::ffff:198.51.100.81 removed by the operator; no mirror answers for them"
stop_master
finish
