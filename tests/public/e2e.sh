# SPDX-License-Identifier: MIT
# The public page end to end on a real master and mirror: the admin API is private, an address
# is listed, looked up (HTML and JSON), reviewed and worked with blsyncctl reviews until the
# mirror delists it; a challenged report delists under the threshold; an early-delisting
# request is answered with the policy and changes nothing.
. "$(dirname "$0")/../lib.sh"

pki m1
alloc_port PUB_PORT
PUB_URL=http://127.0.0.1:$PUB_PORT
echo "read-$TOK" >"$T/read.token"
write_master_conf "public|listen = 127.0.0.1:$PUB_PORT" "public|lookup_rate = 6000" \
    "public|lookup_burst = 1000" "public|request_rate = 6000" "public|request_burst = 100" \
    "http|read_token_file = $T/read.token"
start_master
write_mirror_conf m1 "zone $ZONE|txt = Listed; see $PUB_URL/?ip=\$"
start_mirror m1
wait_until 10 synced m1 || fail "mirror m1 did not sync"
rctl() { in_ns master "$CTL" reviews "$@" --url "$MASTER_URL" --token-file "$T/token"; }

# ---- the admin API answers nothing without a token, reads included ----------------------
for p in /v1/status /v1/listings /v1/lookup/192.0.2.1 /v1/reviews; do
    api GET "$p" "" ""
    expect_msg 401 "bearer token"
done
api GET /v1/status "" "Bearer read-$TOK"
expect 200
api POST /v1/listings '{"prefix":"192.0.2.99"}' "Bearer read-$TOK"
expect 401
api GET /v1/health "" ""
expect 200
in_ns master "$CTL" status --url "$MASTER_URL" --token-file "$T/read.token" | grep -q "^feed main" ||
    fail "blsyncctl status with the read-only token"
ok "admin API: 401 without a token for status, listings, lookup, reviews; read-only token reads, cannot change"

# ---- listed by two reports: the report API returns their ids ----------------------------
api POST /v1/reports '[{"ip":"192.0.2.10","source":"user"},{"ip":"192.0.2.10","source":"user"}]'
expect 200 .listed 1 '.ids | length' 2
R1=$(jq -r '.ids[0]' "$T/out")
R2=$(jq -r '.ids[1]' "$T/out")
[ "$R1" -gt 0 ] && [ "$R2" -gt "$R1" ] || fail "report ids $R1 $R2"
list 192.0.2.20
list 192.0.2.30
for ip in 192.0.2.10 192.0.2.20 192.0.2.30; do
    wait_until 10 is_answer m1 $ip 127.0.0.2 || fail "mirror does not list $ip"
done
dq m1 +short TXT "$(revname 192.0.2.10).$ZONE" | grep -qF "$PUB_URL/?ip=192.0.2.10" ||
    fail "the TXT answer does not point at the public page: $(dq m1 +short TXT "$(revname 192.0.2.10).$ZONE")"
ok "reports $R1 $R2 list 192.0.2.10; the mirror's TXT answer links $PUB_URL/?ip=192.0.2.10"

# ---- look up: JSON and HTML ------------------------------------------------------------
pub GET /api/lookup/192.0.2.10
[ "$STATUS" = 200 ] || fail "lookup JSON: HTTP $STATUS"
jq -e '.listed == true and .state == "listed" and .reason == "policy" and
       (.time_to_delisting | test("^in about 2[34] hours$")) and .listed_since != null and
       .last_report != null and .matched_prefix == "192.0.2.10" and .review_possible' \
    "$T/pub.out" >/dev/null || fail "lookup JSON: $(cat "$T/pub.out")"
! grep -qiE 'm1|mirror-|spamtrap|"source"|evidence|score' "$T/pub.out" ||
    fail "lookup JSON names mirrors or reporters: $(cat "$T/pub.out")"
pub GET '/?ip=192.0.2.10'
[ "$STATUS" = 200 ] || fail "lookup page: HTTP $STATUS"
grep -q 'id="status">192.0.2.10 is listed' "$T/pub.out" || fail "page lacks the status"
grep -qE 'id="ttd">in about 2[34] hours' "$T/pub.out" || fail "page lacks the time to delisting"
grep -q 'href="/review?ip=192.0.2.10"' "$T/pub.out" || fail "page lacks the review link"
! grep -qi '<script' "$T/pub.out" || fail "the page holds a script"
grep -qi "^Content-Security-Policy: default-src 'none'" "$T/pub.hdr" || fail "no CSP header"
grep -qi '^X-Content-Type-Options: nosniff' "$T/pub.hdr" || fail "no nosniff header"
grep -qi '^X-Frame-Options: DENY' "$T/pub.hdr" || fail "no X-Frame-Options header"
pub GET /api/lookup/2001:db8::1
jq -e '.listed == false and .state == "not-listed" and .time_to_delisting == null' "$T/pub.out" \
    >/dev/null || fail "unlisted lookup: $(cat "$T/pub.out")"
for p in /api/listings /v1/listings /v1/status /api/mirrors; do
    pub GET "$p"
    [ "$STATUS" = 404 ] || fail "public $p: HTTP $STATUS"
done
ok "lookup: JSON and HTML say listed, since, last report, 'in about 24 hours', reason; CSP, no script; no enumeration"

# ---- IPv6: the matched prefix ------------------------------------------------------------
list 2001:db8:5::/48
pub GET /api/lookup/2001:db8:5::7
jq -e '.listed and .matched_prefix == "2001:db8:5::/48" and .reason == "operator" and
       (.time_to_delisting | test("no automatic delisting"))' "$T/pub.out" >/dev/null ||
    fail "IPv6 lookup: $(cat "$T/pub.out")"
pub GET '/?ip=2001:db8:5::7'
grep -q 'id="prefix">2001:db8:5::/48' "$T/pub.out" || fail "page lacks the matched prefix"
ok "IPv6: 2001:db8:5::7 matches 2001:db8:5::/48"

# ---- a review filed with the form, worked with blsyncctl reviews -------------------------
pub_form '/review?ip=192.0.2.20' ip=192.0.2.20 category=technical-error \
    email=postmaster@example.net name='Ada Admin' title='Network administrator' \
    relationship='We run AS64500, which announces 192.0.2.0/24.' \
    reason='The address is our NTP server; it sends no mail at all.'
[ "$STATUS" = 201 ] || fail "review form: HTTP $STATUS $(cat "$T/pub.out")"
link=$(sed -n 's/.*id="status-link" href="\([^"]*\)".*/\1/p' "$T/pub.out" | sed 's/&amp;/\&/g')
ID=$(sed -n 's/.*id=\([0-9]*\)&.*/\1/p' <<<"$link")
[ -n "$ID" ] || fail "no status link in $(cat "$T/pub.out")"
rctl list | grep -qE "^$ID +new +technical-error +192.0.2.20 .*postmaster@example.net" ||
    fail "reviews list: $(rctl list)"
rctl show "$ID" | grep -q "reason: *The address is our NTP server" || fail "reviews show: $(rctl show "$ID")"
rctl ask "$ID" --note 'Which host sent mail from it on the day of the reports?' >/dev/null
pub GET "$link"
grep -q 'id="state">waiting-for-information' "$T/pub.out" || fail "status page: not waiting"
grep -q 'id="answer">Which host sent mail' "$T/pub.out" || fail "status page lacks the question"
pub_form "$link" id="$ID" token="${link##*token=}" text='None: port 25 is blocked at our border.'
grep -q 'id="state">new' "$T/pub.out" || fail "reply did not reopen the request: $(cat "$T/pub.out")"
rctl accept "$ID" --note 'Confirmed: listed in error, removed.' | grep -q "effect: the listing is removed" ||
    fail "reviews accept"
wait_until 10 is_answer m1 192.0.2.20 nx || fail "the mirror still lists 192.0.2.20"
# The audit log about the address: the request, the question, the reply, the acceptance and the
# removal it made (blsyncctl audit --ip, newest first in JSON).
acts=$(in_ns master "$CTL" audit --ip 192.0.2.20 --json --url "$MASTER_URL" --token-file "$T/token" |
    jq -r '[.entries[].action] | reverse | join(" ")')
[[ "$acts" == *"review-filed ask review-reply remove accept" ]] || fail "audit --ip 192.0.2.20: $acts"
ok "blsyncctl audit --ip 192.0.2.20: $acts"
pub GET "$link"
grep -q 'id="state">accepted' "$T/pub.out" || fail "status page: not accepted"
grep -q 'id="answer">Confirmed: listed in error, removed.' "$T/pub.out" || fail "status page lacks the answer"
pub GET '/?ip=192.0.2.20'
grep -qE 'id="status">192.0.2.20 is (not listed|being delisted)' "$T/pub.out" ||
    fail "lookup after the review: $(grep -o 'id="status">[^<]*' "$T/pub.out")"
wait_until 10 eval 'pub GET /api/lookup/192.0.2.20 && jq -e ".state == \"not-listed\" and .delisted_at != null" "$T/pub.out" >/dev/null' ||
    fail "lookup JSON after propagation: $(cat "$T/pub.out")"
audit=$(sqlite3 "$T/master.db" "SELECT actor||' '||action||' '||coalesce(reason,'') FROM audit WHERE target='review:$ID' OR reason='technical-error' ORDER BY id")
for want in "public review-filed technical-error" "ask Which host" "public review-reply" "remove technical-error" "accept Confirmed"; do
    grep -q "$want" <<<"$audit" || fail "audit log lacks '$want': $audit"
done
ok "review $ID: filed by form, asked, answered by the requester, accepted with blsyncctl; mirror NXDOMAIN; page shows accepted; audited"

# ---- a challenge of one of two reports: under the threshold, delisted --------------------
api POST /v1/reports '[{"ip":"192.0.2.40","source":"user"},{"ip":"192.0.2.40","source":"user"}]'
expect 200 .listed 1
C1=$(jq -r '.ids[0]' "$T/out")
wait_until 10 is_answer m1 192.0.2.40 127.0.0.2 || fail "mirror does not list 192.0.2.40"
pub POST /api/review -H 'Content-Type: application/json' --data-binary \
    "{\"ip\":\"192.0.2.40\",\"category\":\"challenge\",\"report_id\":$C1,\"email\":\"abuse@example.org\",\"name\":\"Bob\",\"title\":\"Postmaster\",\"subject\":\"Your weekly newsletter\",\"reason\":\"The recipient subscribed with double opt-in.\",\"documentation\":\"Confirmed 2026-11-02 from 198.51.100.7\"}"
[ "$STATUS" = 201 ] || fail "challenge: HTTP $STATUS $(cat "$T/pub.out")"
CID=$(jq -r .id "$T/pub.out")
CTOK=$(jq -r .token "$T/pub.out")
pub POST /api/review -H 'Content-Type: application/json' --data-binary \
    "{\"ip\":\"192.0.2.40\",\"category\":\"challenge\",\"report_id\":$R1,\"email\":\"abuse@example.org\",\"name\":\"Bob\",\"title\":\"Postmaster\",\"subject\":\"x\",\"reason\":\"y\"}"
[ "$STATUS" = 422 ] && jq -e '.field == "report_id"' "$T/pub.out" >/dev/null ||
    fail "a report of another address was taken: HTTP $STATUS $(cat "$T/pub.out")"
rctl accept "$CID" --note 'The subscription was confirmed; the report is discounted.' |
    grep -q "fell under the threshold and is delisted" || fail "challenge accept: $(rctl show "$CID")"
wait_until 10 is_answer m1 192.0.2.40 nx || fail "the mirror still lists 192.0.2.40"
pub GET "/api/review/$CID?token=$CTOK"
jq -e '.state == "accepted" and (.answer | test("discounted"))' "$T/pub.out" >/dev/null ||
    fail "challenge status: $(cat "$T/pub.out")"
pub GET "/api/review/$CID?token=0000000000000000000000000000000f"
[ "$STATUS" = 404 ] || fail "a wrong token saw the request: HTTP $STATUS"
ok "challenge of report $C1: accepted, score under the threshold, delisted on the mirror"

# ---- early delisting: the policy, nothing changes -----------------------------------------
serial=$(master_serial)
pub_form '/review?ip=192.0.2.30' ip=192.0.2.30 category=early-delisting \
    email=noc@example.com name='Carl' title='NOC engineer' relationship='Our customer.' \
    reason='We cleaned the infected host, please delist now.'
[ "$STATUS" = 201 ] || fail "early delisting: HTTP $STATUS"
grep -q 'Request [0-9]*: answered-with-policy' "$T/pub.out" || fail "not answered with the policy"
grep -q 'id="answer">Listings end automatically' "$T/pub.out" || fail "policy text missing"
EID=$(sed -n 's/.*Request \([0-9]*\): answered-with-policy.*/\1/p' "$T/pub.out")
rctl accept "$EID" --note 'x' 2>/dev/null && fail "a closed request was accepted"
is_answer m1 192.0.2.30 127.0.0.2 || fail "192.0.2.30 changed"
[ "$(master_serial)" = "$serial" ] || [ "$(pending)" = 0 ] || fail "something was published"
rctl list --state answered-with-policy | grep -qE "^$EID +answered-with-policy" || fail "not in the closed list"
ok "early-delisting request $EID: answered with the policy, closed, the listing unchanged"

# ---- metrics ------------------------------------------------------------------------------
wait_until 5 metric_is master 'blsync_master_review_requests{state="accepted"}' 2 || fail "review gauge: $(scrape master | grep review_requests)"
[ "$(metric master 'blsync_master_review_requests_filed_total{category="challenge"}')" = 1 ] || fail "filed counter"
[ "$(metric master 'blsync_master_public_lookups_total{result="listed"}')" -ge 3 ] || fail "lookup counter"
ok "metrics: requests by state and category, lookups by result"

# ---- TLS by certificate in the configuration ----------------------------------------------
stop_master
ini_set "$T/master.conf" "public|tls_cert = $T/pki/master.pem" "public|tls_key = $T/pki/master.key"
start_master
tls() { in_ns master curl -s --cacert "$T/pki/ca.pem" --resolve "master.test:$PUB_PORT:127.0.0.1" "$@"; }
tls -D "$T/tls.hdr" -o "$T/tls.out" "https://master.test:$PUB_PORT/review?ip=192.0.2.30"
grep -q 'name="csrf"' "$T/tls.out" || fail "no review form over TLS"
grep -qi '^Strict-Transport-Security: max-age=' "$T/tls.hdr" || fail "no HSTS over TLS"
grep -qi '^Set-Cookie: blsync_csrf=.*; Secure' "$T/tls.hdr" || fail "the CSRF cookie is not Secure over TLS"
tls "https://master.test:$PUB_PORT/api/lookup/192.0.2.30" | jq -e .listed >/dev/null || fail "lookup over TLS"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$PUB_URL/" || true)" = 000 ] || fail "plain HTTP answered on the TLS listener"
# Its expiry, to the second, for the alert BlsyncCertificateExpiring.
end=$(date -u -d "$(openssl x509 -noout -enddate -in "$T/pki/master.pem" | cut -d= -f2)" +%s)
got=$(metric master blsync_master_public_certificate_expiry_timestamp_seconds | awk '{ printf "%d", $1 }')
[ "$got" = "$end" ] || fail "the public certificate's expiry is exported as '$got', not $end"
ok "TLS: the page verifies with the configured certificate, HSTS and Secure cookie; no plain HTTP; its expiry exported"
finish
