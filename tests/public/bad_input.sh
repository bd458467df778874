# SPDX-License-Identifier: MIT
# Bad input on the public page: every field over its limit, HTML and script in every field, a
# personal address, an unlisted address, forms without their CSRF token, a full queue, a huge
# body, and floods from one client (429) that leave other clients and report ingestion alone.
# Requests that break RFC 9112's rules on Host, Transfer-Encoding and field lines: 400 (501
# for an unknown coding) at once, the connection closed; an absolute-form target answered as
# its path; a query with more arguments than the connection's memory holds: 414 at once.
. "$(dirname "$0")/../lib.sh"

alloc_port PUB_PORT
PUB_URL=http://127.0.0.1:$PUB_PORT
write_master_conf "public|listen = 127.0.0.1:$PUB_PORT" "public|lookup_burst = 1000" \
    "public|request_burst = 1000" "public|max_open_requests = 4"
start_master
list 192.0.2.50
list 192.0.2.51
api POST /v1/reports '{"ip":"192.0.2.52","source":"user"}'
RID=$(jq -r '.ids[0]' "$T/out")
list 192.0.2.52

# review BODY-OVERRIDES: files a JSON request, a technical-error review of 192.0.2.50 unless
# the overrides (a jq object) say otherwise.
review() {
    local body
    body=$(jq -cn --argjson o "$1" '{ip:"192.0.2.50",category:"technical-error",
        email:"postmaster@example.net",name:"Ann",title:"Admin",relationship:"Our server.",
        reason:"Listed in error."} + $o')
    pub POST /api/review -H 'Content-Type: application/json' --data-binary "$body" "${@:2}"
}
long() { head -c "$1" /dev/zero | tr '\0' a; }

# ---- every field over its limit ------------------------------------------------------------
declare -A LIMIT=([email]=254 [name]=100 [title]=100 [relationship]=1000 [subject]=998
    [reason]=4000 [documentation]=8000 [url]=2000 [report_id]=20)
for f in "${!LIMIT[@]}"; do
    n=$((LIMIT[$f] + 1))
    case $f in
    email) v="postmaster@$(long $((n - 15))).example" ;;
    url) v="https://example.net/$(long $((n - 20)))" ;;
    report_id) v=$(printf '1%.0s' $(seq $n)) ;;
    *) v=$(long $n) ;;
    esac
    [ ${#v} -gt "${LIMIT[$f]}" ] || fail "test value for $f is not over the limit"
    cat='"technical-error"'
    [ "$f" = subject ] || [ "$f" = report_id ] && cat='"challenge"'
    review "{\"category\":$cat,\"report_id\":\"$RID\",\"subject\":\"s\",\"ip\":\"192.0.2.52\",\"$f\":$(jq -Rn --arg v "$v" '$v')}"
    [ "$STATUS" = 422 ] && jq -e --arg f "$f" '.field == $f and (.error | test("too long"))' "$T/pub.out" >/dev/null ||
        fail "$f over its limit (${#v} bytes): HTTP $STATUS $(head -c 300 "$T/pub.out")"
done
review "{\"reason\":\"$(long 4000)\",\"documentation\":\"$(long 8000)\"}"
[ "$STATUS" = 201 ] || fail "fields at their limits refused: HTTP $STATUS $(head -c 300 "$T/pub.out")"
ok "every field over its limit: 422 naming the field; fields at their limits accepted"

# ---- HTML and script in every field --------------------------------------------------------
X='<script>alert(1)</script><img src=x onerror=alert(2)>"'"'"'&'
review "$(jq -cn --arg x "$X" '{ip:"192.0.2.51",name:$x,title:$x,relationship:$x,reason:$x,documentation:$x}')"
[ "$STATUS" = 201 ] || fail "markup in the text fields refused: HTTP $STATUS $(cat "$T/pub.out")"
ID=$(jq -r .id "$T/pub.out")
TOKN=$(jq -r .token "$T/pub.out")
pub GET "/review/status?id=$ID&token=$TOKN"
[ "$STATUS" = 200 ] || fail "status page: HTTP $STATUS"
api POST "/v1/reviews/$ID" "$(jq -cn --arg x "$X" '{action:"ask",note:$x,actor:"op"}')"
expect 200 .review.state waiting-for-information
pub GET "/review/status?id=$ID&token=$TOKN"
grep -q '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&amp;' "$T/pub.out" ||
    fail "the operator's note is not shown escaped: $(grep -o 'id="answer">[^/]*' "$T/pub.out")"
pub GET "/api/review/$ID?token=$TOKN"
grep -q '\\u003cscript\\u003e' "$T/pub.out" || fail "JSON status does not escape markup: $(cat "$T/pub.out")"
for f in ip email url category report_id; do
    review "$(jq -cn --arg f "$f" --arg x "$X" '{($f):$x, subject:"s"}')"
    [ "$STATUS" = 422 ] && jq -e --arg f "$f" '.field == $f' "$T/pub.out" >/dev/null ||
        fail "markup in $f: HTTP $STATUS $(cat "$T/pub.out")"
    grep -q '<script' "$T/pub.out" && fail "JSON error echoes markup: $(cat "$T/pub.out")"
done
# The form: an error page shows what was sent, escaped, never as markup.
args=()
for f in name title relationship subject reason documentation url report_id; do args+=("$f=$X"); done
pub_form '/review?ip=192.0.2.51' ip="$X" category="$X" email="$X" "${args[@]}"
[ "$STATUS" = 422 ] || fail "form with markup everywhere: HTTP $STATUS"
grep -q 'id="form-error"' "$T/pub.out" || fail "no error shown"
grep -qiE '<script|<img' "$T/pub.out" && fail "the error page echoes markup: $(grep -oiE '.{40}(<script|<img).{40}' "$T/pub.out" | head -3)"
grep -q 'value="&lt;script&gt;' "$T/pub.out" || fail "the form does not keep the (escaped) input"
for p in '/?ip=%3Cscript%3Ealert(1)%3C/script%3E' '/%3Cscript%3E' '/review/status?id=%3Cb%3E&token=%3Cb%3E' \
    '/api/lookup/%3Cscript%3E'; do
    pub GET "$p"
    [[ $STATUS == 4* ]] || fail "$p: HTTP $STATUS"
    grep -qiE '<script|<b>' "$T/pub.out" && fail "$p echoes markup: $(cat "$T/pub.out")"
done
ok "HTML and script in every field: stored as text, shown escaped (HTML and JSON), refused where a field cannot hold it"

# ---- who and what may be reviewed -------------------------------------------------------------
review '{"email":"john.doe@example.net"}'
[ "$STATUS" = 422 ] && jq -e '.field == "email" and (.error | test("role account"))' "$T/pub.out" >/dev/null ||
    fail "a personal address: HTTP $STATUS $(cat "$T/pub.out")"
# A role address on something that is not a host name.
for e in postmaster@-mail.example.net postmaster@mail-.example.net postmaster@192.0.2.1 \
    postmaster@1.2 "postmaster@$(long 64).net" postmaster@example postmaster@example..net; do
    review "$(jq -cn --arg e "$e" '{email:$e}')"
    [ "$STATUS" = 422 ] && jq -e '.field == "email" and (.error | test("domain"))' "$T/pub.out" >/dev/null ||
        fail "a role address at $e: HTTP $STATUS $(cat "$T/pub.out")"
done
review '{"ip":"198.51.100.77"}'
[ "$STATUS" = 422 ] && jq -e '.field == "ip" and (.error | test("not listed"))' "$T/pub.out" >/dev/null ||
    fail "an unlisted address: HTTP $STATUS $(cat "$T/pub.out")"
review '{"category":"please"}'
[ "$STATUS" = 422 ] || fail "an unknown category: HTTP $STATUS"
review '{"url":"javascript:alert(1)"}'
[ "$STATUS" = 422 ] && jq -e '.field == "url"' "$T/pub.out" >/dev/null || fail "a javascript: URL: $STATUS"
review '{"name":"a\u0007b"}'
[ "$STATUS" = 422 ] && jq -e '.field == "name"' "$T/pub.out" >/dev/null || fail "a control character: $STATUS"
ok "personal address, unlisted address, unknown category, javascript: URL, control characters: 422"

# ---- a method a page does not take: 405 naming the ones it takes in Allow (RFC 9110 15.5.6) ----
for c in "PUT / GET, HEAD" "GET /api/review POST" "DELETE /review GET, HEAD, POST" "POST /api/lookup/192.0.2.50 GET, HEAD"; do
    read -r m p want <<<"$c"
    pub "$m" "$p"
    got=$(sed -n 's/^Allow: //Ip' "$T/pub.hdr" | tr -d '\r')
    [ "$STATUS" = 405 ] && [ "$got" = "$want" ] || fail "$m $p: HTTP $STATUS, Allow '$got', want 405 and '$want'"
done
ok "405 with Allow"

# ---- a NUL byte (%00) anywhere: 400, never a value cut short -----------------------------------
# Cut at the NUL, "192.0.2.50%00x" would be a listed address and "main%00x" the main feed.
before=$(api GET '/v1/reviews' && jq '.reviews | length' "$T/out")
csrf=$(pub_csrf '/review?ip=192.0.2.50')
pub POST /review --data "csrf=$csrf&ip=192.0.2.50%00x&category=technical-error&email=postmaster%40example.net"
[ "$STATUS" = 400 ] && grep -q 'NUL byte' "$T/pub.out" || fail "a form value with %00: HTTP $STATUS"
pub GET '/?ip=192.0.2.50%00x'
[ "$STATUS" = 400 ] && grep -q 'NUL byte' "$T/pub.out" || fail "a lookup page with %00: HTTP $STATUS"
pub GET '/api/lookup/192.0.2.50?x%00=1'
[ "$STATUS" = 400 ] && jq -e '.error | test("NUL byte")' "$T/pub.out" >/dev/null ||
    fail "a JSON lookup with %00 in a query name: HTTP $STATUS"
api GET '/v1/status?feed=main%00x'
expect 400
# The admin API's path too: decoded, "192.0.2.51%00x" would be the listed 192.0.2.51.
api GET '/v1/lookup/192.0.2.51%00x'
expect_msg 400 "NUL byte"
api DELETE '/v1/listings/192.0.2.51%00x?reason=user-error'
expect_msg 400 "NUL byte"
lookup_is 192.0.2.51 .listed true || fail "a DELETE with %00 in its path removed 192.0.2.51"
# A raw NUL byte in the request line is refused as %00 is (libmicrohttpd would end the path at it).
got=$("$PY" - "$HTTP_PORT" "$TOK" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"DELETE /v1/listings/192.0.2.51\0x?reason=user-error HTTP/1.1\r\nHost: a\r\n"
          b"Authorization: Bearer " + sys.argv[2].encode() + b"\r\nConnection: close\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode())
EOF
)
[ "$got" = "HTTP/1.1 400 Bad Request" ] || fail "a DELETE with a raw NUL byte in its path: $got"
lookup_is 192.0.2.51 .listed true || fail "a DELETE with a raw NUL byte in its path removed 192.0.2.51"
# In the path too: decoded, "$ID%00x" would be request $ID and 192.0.2.50%00x the address.
pub GET "/api/review/$ID%00x?token=$TOKN"
[ "$STATUS" = 400 ] && jq -e '.error | test("NUL byte")' "$T/pub.out" >/dev/null ||
    fail "a JSON status with %00 in its path: HTTP $STATUS"
pub GET '/api/lookup/192.0.2.50%00x'
[ "$STATUS" = 400 ] || fail "a JSON lookup with %00 in its path: HTTP $STATUS"
pub GET '/style.css%00x'
[ "$STATUS" = 400 ] && grep -q 'NUL byte' "$T/pub.out" || fail "a page path with %00: HTTP $STATUS"
after=$(api GET '/v1/reviews' && jq '.reviews | length' "$T/out")
[ "$after" = "$before" ] || fail "a refused request was filed: $before reviews, then $after"
ok "a NUL byte (%00, or raw in the request line) in a form value, a query value or name, a path, an admin API parameter or path: 400, nothing filed"

# ---- values a strict parser refuses: nothing filed under another value than the one sent -------
before=$(api GET '/v1/reviews' && jq '.reviews | length' "$T/out")
# A raw NUL byte in a form body is refused as %00 is: cut at it, the address would be 192.0.2.50.
csrf=$(pub_csrf '/review?ip=192.0.2.50')
printf 'csrf=%s&ip=192.0.2.50\0x&category=early-delisting&email=postmaster%%40example.net&name=A&title=T' \
    "$csrf" >"$T/nul.body"
pub POST /review --data-binary "@$T/nul.body"
[ "$STATUS" = 400 ] && grep -q 'NUL byte' "$T/pub.out" || fail "a raw NUL byte in a form body: HTTP $STATUS"
# A report id is digits only: no sign, space, fraction or overflow that strtoll would take.
for rid in "\"+$RID\"" "\" $RID\"" '"99999999999999999999"' "$RID.25"; do
    review "{\"ip\":\"192.0.2.52\",\"category\":\"challenge\",\"subject\":\"s\",\"report_id\":$rid}"
    [ "$STATUS" = 422 ] && jq -e '.field == "report_id"' "$T/pub.out" >/dev/null ||
        fail "report id $rid: HTTP $STATUS $(cat "$T/pub.out")"
done
# Text past U+10FFFF (F4 90 80 80) is no UTF-8.
pub_form '/review?ip=192.0.2.50' ip=192.0.2.50 category=early-delisting email=postmaster@example.net \
    name=$'\xf4\x90\x80\x80' title=T
[ "$STATUS" = 422 ] && grep -q '<strong>name:</strong> invalid characters' "$T/pub.out" ||
    fail "a code point past U+10FFFF: HTTP $STATUS $(grep -o 'id="form-error">.\{0,120\}' "$T/pub.out")"
# A status page's id is digits only too.
pub GET "/review/status?id=%2B$ID&token=$TOKN"
[ "$STATUS" = 404 ] || fail "status page of id +$ID: HTTP $STATUS"
pub GET "/api/review/%20$ID?token=$TOKN"
[ "$STATUS" = 404 ] || fail "JSON status of id ' $ID': HTTP $STATUS"
pub GET "/review/status?id=$ID&token=$TOKN"
[ "$STATUS" = 200 ] || fail "status page of id $ID: HTTP $STATUS"
after=$(api GET '/v1/reviews' && jq '.reviews | length' "$T/out")
[ "$after" = "$before" ] || fail "a refused request was filed: $before reviews, then $after"
ok "raw NUL in a form body 400; report ids +N, ' N', 20 nines, N.25 422; text past U+10FFFF 422; status ids +N, ' N' 404"

# ---- forms need their CSRF token; JSON needs its content type ----------------------------------
pub POST /review --data-urlencode ip=192.0.2.50 --data-urlencode category=technical-error
[ "$STATUS" = 403 ] || fail "a form without its token: HTTP $STATUS"
pub_csrf '/review?ip=192.0.2.50' >/dev/null
pub POST /review --data-urlencode "csrf=$(long 64)" --data-urlencode ip=192.0.2.50
[ "$STATUS" = 403 ] || fail "a form with a forged token: HTTP $STATUS"
pub POST /api/review --data-binary '{"ip":"192.0.2.50"}'
[ "$STATUS" = 415 ] || fail "JSON without its content type: HTTP $STATUS"
ok "CSRF: no token or a forged one 403; JSON without application/json 415"

# ---- a full queue: 503 with a message; the policy answer still goes out ------------------------
n=$(api GET '/v1/reviews?state=open' && jq '.reviews | length' "$T/out")
while [ "$n" -lt 4 ]; do
    review '{}'
    [ "$STATUS" = 201 ] || fail "filing below the bound: HTTP $STATUS"
    n=$((n + 1))
done
review '{}'
[ "$STATUS" = 503 ] && jq -e '.error | test("queue is full")' "$T/pub.out" >/dev/null ||
    fail "past the bound: HTTP $STATUS $(cat "$T/pub.out")"
review '{"category":"early-delisting"}'
[ "$STATUS" = 201 ] && jq -e '.state == "answered-with-policy"' "$T/pub.out" >/dev/null ||
    fail "early delisting with a full queue: HTTP $STATUS"
api GET '/v1/reviews?state=new&limit=1'
OLD=$(jq -r '.reviews[0].id' "$T/out")
api POST "/v1/reviews/$OLD" '{"action":"reject","note":"Not our error.","actor":"op"}'
expect 200 .review.state rejected
review '{}'
[ "$STATUS" = 201 ] || fail "after an answer the queue takes a request again: HTTP $STATUS"
ok "queue bound 4: the fifth open request 503 'queue is full', the oldest kept; room again after an answer"

# ---- a huge body: 413 before it is read --------------------------------------------------------
head -c 200000 /dev/zero | tr '\0' a >"$T/huge"
pub POST /api/review -H 'Content-Type: application/json' --data-binary "@$T/huge"
[ "$STATUS" = 413 ] || fail "a 200 KB body: HTTP $STATUS"
ok "a 200 KB body: 413"

# ---- floods from one client: 429, other clients and ingestion unaffected -----------------------
stop_master
ini_set "$T/master.conf" "public|lookup_rate = 60" "public|lookup_burst = 10" \
    "public|request_rate = 6" "public|request_burst = 2"
start_master
f0=$(now_ms)
for i in $(seq 40); do
    curl -s -o /dev/null -w '%{http_code}\n' --interface 127.0.0.3 "$PUB_URL/api/lookup/192.0.2.50"
done >"$T/codes"
n200=$(grep -c '^200$' "$T/codes" || true)
n429=$(grep -c '^429$' "$T/codes" || true)
codes="$n200 x 200, $n429 x 429"
# The burst (10), and a token a second refilled while the flood runs.
most=$((10 + ($(now_ms) - f0) / 1000 + 1))
[ "$n200" -ge 10 ] && [ "$n200" -le "$most" ] && [ $((n200 + n429)) = 40 ] ||
    fail "lookup flood from 127.0.0.3: $codes (at most $most may pass)"
for i in $(seq 20); do
    pub GET /api/lookup/192.0.2.50 --interface 127.0.0.3
    [ "$STATUS" != 429 ] || break
done
[ "$STATUS" = 429 ] && grep -qi '^Retry-After: 60' "$T/pub.hdr" || fail "no Retry-After on 429: HTTP $STATUS"
t0=$(now_ms)
for i in $(seq 10); do
    pub GET /api/lookup/192.0.2.50 --interface 127.0.0.4
    [ "$STATUS" = 200 ] || fail "another client was refused during the flood: HTTP $STATUS"
done
api POST /v1/reports '{"ip":"192.0.2.60","source":"spamtrap"}'
expect 200 .accepted 1
for i in 1 2; do
    review '{}' --interface 127.0.0.5
    [ "$STATUS" = 201 ] || [ "$STATUS" = 503 ] || fail "request $i from 127.0.0.5: HTTP $STATUS"
done
review '{}' --interface 127.0.0.5
[ "$STATUS" = 429 ] || fail "third request from 127.0.0.5: HTTP $STATUS"
review '{"category":"early-delisting"}' --interface 127.0.0.6
[ "$STATUS" = 201 ] || fail "a request from another client: HTTP $STATUS"
[ "$(metric master 'blsync_master_public_refused_total{reason="rate_limited_lookup"}')" -ge "$n429" ] ||
    fail "rate-limit counter: $(scrape master | grep public_refused)"
ok "floods: lookups $codes from one client; 10 lookups from another all 200 in $(($(now_ms) - t0)) ms; a report ingested; requests 429 after the burst"

# ---- HTTP/1.1 framing and Host (RFC 9112) ---------------------------------------------------
for m in "GET /" "POST /api/review"; do
    "$PY" "$S/tests/attack/http_conf.py" --timeout "$(scaled 2)" "$PUB_PORT" $m host te fields ||
        fail "the public listener, $m: RFC 9112 cases failed (above)"
done
"$PY" "$S/tests/attack/http_conf.py" --timeout "$(scaled 2)" "$PUB_PORT" GET /api/lookup/192.0.2.50 target query ||
    fail "the public listener: absolute-form targets or many query arguments failed (above)"
ok "the public listener: Host, Transfer-Encoding and field lines checked; absolute-form targets answered; 414 for many query arguments"
finish
