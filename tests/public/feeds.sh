#!/bin/bash
# SPDX-License-Identifier: MIT
# The public page of a master with two feeds ([master] feeds): a lookup shows the address in
# each feed (HTML and JSON, the main feed first, each with its description); a review request
# names its feed and goes into that feed's queue, blsyncctl reviews --feed works it, accepting
# delists in that feed only, and the requester's status page follows it; the review gauges
# count every feed's queue.
. "$(dirname "$0")/../lib.sh"

alloc_port PUB_PORT
PUB_URL=http://127.0.0.1:$PUB_PORT
TRAP_DESC='Spam traps only: listed at the first trap hit'
# The spamtrap list lists at the first report; the main list needs two.
cat >"$T/spamtrap.conf" <<CONF
[master]
feed = spamtrap
db = $T/spamtrap.db
description = $TRAP_DESC
[policy]
threshold = 1
CONF
write_master_conf "master|feeds = $T/spamtrap.conf" "public|listen = 127.0.0.1:$PUB_PORT" \
    "public|lookup_rate = 6000" "public|lookup_burst = 1000" "public|request_rate = 6000" \
    "public|request_burst = 100"
start_master
wait_up master 10 logged master 'event=started.*feed="\?spamtrap'
rctl() { in_ns master "$CTL" reviews "$@" --url "$MASTER_URL" --token-file "$T/token"; }
trap_api() { api "$1" "$2?feed=spamtrap" "${3:-}"; }

# ---- 192.0.2.7 listed in spamtrap only; 192.0.2.9 in both ---------------------------------
trap_api POST /v1/reports '{"ip":"192.0.2.7","source":"user"}'
expect 200 .listed 1
trap_api POST /v1/reports '{"ip":"192.0.2.9","source":"user"}'
expect 200 .listed 1
api POST /v1/reports '[{"ip":"192.0.2.9","source":"user"},{"ip":"192.0.2.9","source":"user"}]'
expect 200 .listed 1
api GET /v1/lookup/192.0.2.7
expect 200 .listed false
ok "192.0.2.7 listed in spamtrap (one report), not in main; 192.0.2.9 in both"

# ---- the lookup: JSON ----------------------------------------------------------------------
pub GET /api/lookup/192.0.2.7
[ "$STATUS" = 200 ] || fail "lookup JSON: HTTP $STATUS $(cat "$T/pub.out")"
jq -e --arg d "$TRAP_DESC" '
    .ip == "192.0.2.7" and .listed == false and .state == "not-listed" and
    (.feeds | length) == 2 and
    .feeds[0].feed == "main" and .feeds[0].listed == false and .feeds[0].state == "not-listed" and
    (.feeds[0] | has("description") | not) and .feeds[0].review_possible == false and
    .feeds[1].feed == "spamtrap" and .feeds[1].description == $d and .feeds[1].listed == true and
    .feeds[1].state == "listed" and .feeds[1].reason == "policy" and
    .feeds[1].matched_prefix == "192.0.2.7" and .feeds[1].listed_since != null and
    .feeds[1].last_report != null and .feeds[1].review_possible == true and
    (.feeds[1].time_to_delisting | test("^in about 2[34] hours$"))' "$T/pub.out" >/dev/null ||
    fail "lookup JSON of 192.0.2.7: $(cat "$T/pub.out")"
ok "JSON: top level is main's (not listed); feeds[] main not listed, spamtrap listed with its fields and description"

# ---- the lookup: HTML ----------------------------------------------------------------------
pub GET '/?ip=192.0.2.7'
[ "$STATUS" = 200 ] || fail "lookup page: HTTP $STATUS"
main_line=$(grep -n 'id="status-main">main: 192.0.2.7 is not listed<' "$T/pub.out" | cut -d: -f1)
trap_line=$(grep -n 'id="status-spamtrap">spamtrap: 192.0.2.7 is listed<' "$T/pub.out" | cut -d: -f1)
[ -n "$main_line" ] && [ -n "$trap_line" ] && [ "$main_line" -lt "$trap_line" ] ||
    fail "page: main (line ${main_line:-none}) not listed before spamtrap (line ${trap_line:-none}) listed: $(cat "$T/pub.out")"
trap_sec=$(grep 'data-feed="spamtrap"' "$T/pub.out")
grep -qF "id=\"description-spamtrap\">$TRAP_DESC<" <<<"$trap_sec" || fail "spamtrap's description missing"
grep -qE 'id="ttd-spamtrap">in about 2[34] hours<' <<<"$trap_sec" || fail "spamtrap's time to delisting missing"
grep -q 'id="since-spamtrap">' <<<"$trap_sec" && grep -q 'id="reason-spamtrap">spam reports' <<<"$trap_sec" ||
    fail "spamtrap's listed since or reason missing"
grep -q 'href="/review?ip=192.0.2.7&amp;feed=spamtrap"' <<<"$trap_sec" || fail "spamtrap's review link"
! grep -q 'review-link-main\|id="ttd-main"\|id="description-main"' "$T/pub.out" ||
    fail "main's section shows a listing's fields or a description it does not have"
! grep -qi '<script' "$T/pub.out" || fail "the page holds a script"
ok "HTML: main's section (not listed) first, spamtrap's listed with description, time to delisting, review link"

# ---- review requests: the feed decides the queue -------------------------------------------
pub GET '/review?ip=192.0.2.9&feed=spamtrap'
grep -q '<select id="feed" name="feed"><option value="main">main</option><option value="spamtrap" selected>spamtrap' "$T/pub.out" ||
    fail "review form: no list select with spamtrap selected: $(grep -o '<select id="feed".*</select>' "$T/pub.out" | head -c 400)"
form=(ip=192.0.2.9 category=technical-error email=postmaster@example.net name='Ada Admin'
    title='Network administrator' relationship='We run AS64500.'
    reason='A trap address was leaked to a list; we never mailed it.')
pub_form '/review?ip=192.0.2.7' feed=main "${form[@]/192.0.2.9/192.0.2.7}"
[ "$STATUS" = 422 ] && grep -q 'id="form-error"><strong>ip' "$T/pub.out" ||
    fail "a review in main of 192.0.2.7 (listed in spamtrap only): HTTP $STATUS"
pub_form '/review?ip=192.0.2.9' feed=nosuch "${form[@]}"
[ "$STATUS" = 422 ] && grep -q 'id="form-error"><strong>feed' "$T/pub.out" ||
    fail "a review naming an unknown feed: HTTP $STATUS"
# An early-delisting request in main: the policy answer, as with one feed; main's id 1.
pub POST /api/review -H 'Content-Type: application/json' --data-binary \
    '{"ip":"192.0.2.9","feed":"main","category":"early-delisting","email":"abuse@example.org","name":"Bob","title":"Postmaster","relationship":"Postmaster of AS64500.","reason":"Fixed the compromised host."}'
[ "$STATUS" = 201 ] || fail "early delisting in main: HTTP $STATUS $(cat "$T/pub.out")"
jq -e '.state == "answered-with-policy" and .feed == "main" and (.answer | length > 0) and
       (.status_url | endswith("&feed=main"))' "$T/pub.out" >/dev/null ||
    fail "early delisting answer: $(cat "$T/pub.out")"
EID=$(jq -r .id "$T/pub.out")
ETOK=$(jq -r .token "$T/pub.out")
pub_form '/review?ip=192.0.2.9&feed=spamtrap' feed=spamtrap "${form[@]}"
[ "$STATUS" = 201 ] || fail "review form for spamtrap: HTTP $STATUS $(cat "$T/pub.out")"
link=$(sed -n 's/.*id="status-link" href="\([^"]*\)".*/\1/p' "$T/pub.out" | sed 's/&amp;/\&/g')
ID=$(sed -n 's/.*id=\([0-9]*\)&.*/\1/p' <<<"$link")
TOKN=$(sed -n 's/.*token=\([0-9a-f]*\).*/\1/p' <<<"$link")
[[ "$link" == *"&feed=spamtrap" ]] && [ -n "$ID" ] || fail "status link: '$link'"
[ "$ID" = "$EID" ] || fail "each feed numbers its requests: spamtrap's $ID, main's $EID"
rctl list --feed spamtrap | grep -qE "^$ID +new +technical-error +192.0.2.9 .*postmaster@example.net" ||
    fail "reviews list --feed spamtrap: $(rctl list --feed spamtrap)"
! rctl list | grep -q 'technical-error' || fail "main's queue holds spamtrap's request: $(rctl list)"
ok "review $ID filed for spamtrap lands in spamtrap's queue only; main refuses an address it does not list; an unknown feed is refused; main answers early delisting with the policy"

# ---- the gauges count every feed's queue --------------------------------------------------
older() { awk -v v="$(metric master blsync_master_review_oldest_unanswered_seconds)" 'BEGIN { exit !(v > 0) }'; }
wait_until 5 metric_is master 'blsync_master_review_requests{state="new"}' 1 ||
    fail "review gauge: $(scrape master | grep review_requests)"
[ "$(metric master 'blsync_master_review_requests{state="answered-with-policy"}')" = 1 ] ||
    fail "main's answered request not counted: $(scrape master | grep review_requests)"
wait_until 5 older || fail "oldest unanswered age: $(metric master blsync_master_review_oldest_unanswered_seconds)"
ok "gauges: spamtrap's open request counted new, main's answered-with-policy; its age in the oldest unanswered"

# ---- the requester's status page: the feed in the URL, or found by the token ----------------
pub GET "$link"
grep -q 'id="state">new' "$T/pub.out" && grep -q 'id="feed">spamtrap' "$T/pub.out" ||
    fail "status page: $(cat "$T/pub.out")"
pub GET "/api/review/$ID?token=$TOKN"
jq -e '.state == "new" and .feed == "spamtrap" and .category == "technical-error"' "$T/pub.out" >/dev/null ||
    fail "status JSON without feed (spamtrap's by its token): $(cat "$T/pub.out")"
pub GET "/api/review/$EID?token=$ETOK"
jq -e '.state == "answered-with-policy" and .feed == "main"' "$T/pub.out" >/dev/null ||
    fail "status JSON without feed (main's request of the same id): $(cat "$T/pub.out")"
pub GET "/api/review/$ID?token=$TOKN&feed=main"
[ "$STATUS" = 404 ] || fail "spamtrap's request found under feed=main: HTTP $STATUS"
rctl ask "$ID" --feed spamtrap --note 'Which list leaked the address?' >/dev/null
pub GET "$link"
grep -q 'id="state">waiting-for-information' "$T/pub.out" || fail "status page: not waiting"
grep -q '<input type="hidden" name="feed" value="spamtrap">' "$T/pub.out" || fail "reply form lacks the feed"
pub_form "$link" id="$ID" token="$TOKN" feed=spamtrap text='A scraped web page, now removed.'
grep -q 'id="state">new' "$T/pub.out" || fail "reply did not reopen the request: $(cat "$T/pub.out")"
ok "status page and JSON find spamtrap's $ID by feed or by token (main's $EID apart); ask and reply in spamtrap"

# ---- accept: delisted in spamtrap only ------------------------------------------------------
rctl accept "$ID" --feed spamtrap --note 'Confirmed: a leaked trap, removed.' |
    grep -q "effect: the listing is removed" || fail "reviews accept --feed spamtrap"
spamtrap_clear() {
    pub GET /api/lookup/192.0.2.9 &&
        jq -e '.feeds[1].feed == "spamtrap" and .feeds[1].state == "not-listed" and
               .feeds[1].delisted_at != null and .feeds[0].listed == true' "$T/pub.out" >/dev/null
}
wait_until 10 spamtrap_clear || fail "after accept: $(cat "$T/pub.out")"
api GET /v1/lookup/192.0.2.9
expect 200 .listed true
trap_api GET /v1/lookup/192.0.2.9
expect 200 .listed false
pub GET "$link"
grep -q 'id="state">accepted' "$T/pub.out" && grep -q 'id="answer">Confirmed: a leaked trap' "$T/pub.out" ||
    fail "status page after accept: $(cat "$T/pub.out")"
pub GET '/?ip=192.0.2.9'
grep -q 'id="status-main">main: 192.0.2.9 is listed<' "$T/pub.out" &&
    grep -qE 'id="status-spamtrap">spamtrap: 192.0.2.9 is (not listed|being delisted)<' "$T/pub.out" ||
    fail "page after accept: $(grep -o 'id="status-[a-z]*">[^<]*' "$T/pub.out")"
wait_until 5 metric_is master 'blsync_master_review_requests{state="new"}' 0 ||
    fail "review gauge after accept: $(scrape master | grep review_requests)"
[ "$(metric master 'blsync_master_review_requests{state="accepted"}')" = 1 ] ||
    fail "accepted gauge: $(scrape master | grep review_requests)"
[ "$(metric master blsync_master_review_oldest_unanswered_seconds)" = 0 ] ||
    fail "oldest unanswered after accept: $(metric master blsync_master_review_oldest_unanswered_seconds)"
ok "accept --feed spamtrap delists 192.0.2.9 in spamtrap, main still lists it; the page shows accepted; gauges back to 0 open"
finish
