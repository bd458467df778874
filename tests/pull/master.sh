#!/bin/bash
# SPDX-License-Identifier: MIT
# The master serves the spool's HTTP layout itself ([public] serve_spool): a
# mirror pulls straight from the public listener and another through an
# nginx cache in front of it; both see a listing and a delisting. Only the
# layout's exact names are served (404 for anything else of the spool or
# outside it), objects are immutable for a year, heads revalidate to 304.
# Requests are counted by kind and status; serve_spool follows SIGHUP; a
# large object reaches a steady reader whole however long it takes, and a
# reader that stops is closed after idle_timeout.
. "$(dirname "$0")/../lib.sh"

alloc_port PUB TIER1
# The head is signed again every 5 s (the default): between two signatures
# a cache's revalidation of it (max-age=1) is answered 304.
# request_timeout and idle_timeout are short: a large object outlasts both (below).
write_master_conf "public|listen = 127.0.0.1:$PUB" 'public|serve_spool = yes' \
    "http|request_timeout = 3s" "http|idle_timeout = 1s"
start_master
wait_up master 10 logged master 'event=public_listening.*spool=/spool/'
SP=http://127.0.0.1:$PUB/spool

# get PATH [CURL-ARGS...]: status of a GET of SP/PATH taken as is (no
# client-side ".." folding); headers in $T/get.hdr, body in $T/get.out.
get() {
    local p=$1
    shift
    curl -s --path-as-is --max-time "$(scaled_int 5)" -D "$T/get.hdr" -o "$T/get.out" \
        -w '%{http_code}' "$@" "$SP/$p" || true
}
hdr() { sed -n "s/^$1: *//Ip" "$T/get.hdr" | tr -d '\r'; }
wait_until 10 test -s "$T/spool/main/head" || fail "the publisher wrote no head"

st=$(get main/head)
[ "$st" = 200 ] || fail "GET /spool/main/head: HTTP $st"
[ "$(hdr Content-Type)" = application/octet-stream ] || fail "head Content-Type: $(hdr Content-Type)"
[ "$(hdr Cache-Control)" = max-age=1 ] || fail "head Cache-Control: $(hdr Cache-Control)"
etag=$(hdr ETag)
[ -n "$etag" ] || fail "head without ETag"
[ -n "$(hdr Last-Modified)" ] || fail "head without Last-Modified"
# The head may be signed again between the two requests: a 304 when it was not.
head_304() {
    local e
    get main/head >/dev/null
    e=$(hdr ETag)
    [ "$(get main/head -H "If-None-Match: $e")" = 304 ] && [ "$(hdr ETag)" = "$e" ]
}
wait_until 10 head_304 || fail "a head request naming its ETag never came back 304"
pass "head: 200 application/octet-stream, max-age=1, ETag; If-None-Match gives 304"

snaps=("$T"/spool/main/by-hash/*.snap)
obj=${snaps[0]##*/}
[[ $obj =~ ^[0-9a-f]{64}\.snap$ ]] || fail "no snapshot under by-hash/"
st=$(get "main/by-hash/$obj")
[ "$st" = 200 ] || fail "GET by-hash/$obj: HTTP $st"
cmp -s "$T/get.out" "$T/spool/main/by-hash/$obj" || fail "by-hash/$obj: body differs from the file"
[ "$(hdr Cache-Control)" = "public, max-age=31536000, immutable" ] ||
    fail "by-hash Cache-Control: $(hdr Cache-Control)"
[ "$(hdr ETag)" = "\"${obj%.*}\"" ] || fail "by-hash ETag $(hdr ETag), want its hash"
st=$(get "main/by-hash/$obj" -I)
[ "$st" = 200 ] || fail "HEAD by-hash/$obj: HTTP $st"
[ "$(hdr Content-Length)" = "$(stat -c %s "$T/spool/main/by-hash/$obj")" ] ||
    fail "HEAD by-hash/$obj: Content-Length $(hdr Content-Length)"
[ "$(get "main/by-hash/$obj" -X POST)" = 405 ] || fail "POST to an object was not 405"
# A 304 has no body; a Content-Length in it must be the 200's (RFC 9110 8.6), or a
# cache that takes the 304's fields for its stored copy would cut the object to it.
size=$(stat -c %s "$T/spool/main/by-hash/$obj")
for m in GET HEAD; do
    st=$(get "main/by-hash/$obj" -X "$m" -H "If-None-Match: \"${obj%.*}\"")
    cl=$(hdr Content-Length)
    [ "$st" = 304 ] && { [ -z "$cl" ] || [ "$cl" = "$size" ]; } ||
        fail "$m by-hash/$obj naming its ETag: HTTP $st, Content-Length '$cl' (the object has $size bytes)"
done
pass "by-hash object: its bytes, public, max-age=31536000, immutable, ETag its hash; HEAD; POST 405; 304 with no wrong length"

# What a cache in front may send: If-None-Match as a list, weak, or in two fields (one
# list, RFC 9110 5.3): 304 when one names the object. A Range (not supported) gets the
# whole object: 200, every byte, no Content-Range.
e="\"${obj%.*}\""
for h in "If-None-Match: \"x\", $e" "If-None-Match: W/$e" "If-None-Match: *"; do
    [ "$(get "main/by-hash/$obj" -H "$h")" = 304 ] || fail "by-hash/$obj with $h: HTTP $(head -1 "$T/get.hdr")"
done
st=$(get "main/by-hash/$obj" -H 'If-None-Match: "x"' -H "If-None-Match: $e")
[ "$st" = 304 ] || fail "by-hash/$obj with its ETag in a second If-None-Match field: HTTP $st"
[ "$(get "main/by-hash/$obj" -H 'If-None-Match: "x", W/"y"')" = 200 ] ||
    fail "by-hash/$obj with other ETags: not 200"
for r in bytes=0- bytes=10-20 bytes=-5; do
    st=$(get "main/by-hash/$obj" -H "Range: $r")
    [ "$st" = 200 ] && cmp -s "$T/get.out" "$T/spool/main/by-hash/$obj" && [ -z "$(hdr Content-Range)" ] ||
        fail "by-hash/$obj with Range: $r: HTTP $st, $(wc -c <"$T/get.out") bytes, Content-Range '$(hdr Content-Range)'"
done
pass "If-None-Match lists, weak tags, *, two fields: 304; a Range: the whole object"

# Nothing but the layout's exact names: traversal (raw and percent-encoded),
# an unknown object, spool files outside by-hash/, other feeds, other spellings.
spoolfiles=("$T"/spool/main/[0-9]*.snap)
spoolfile=${spoolfiles[0]##*/}
[[ $spoolfile =~ ^[0-9]{20}\.snap$ ]] || fail "no object in the spool directory"
zero=$(printf '0%.0s' {1..64})
for p in ../master.conf main/../../master.conf main/by-hash/../head %2e%2e/master.conf \
    main/%2e%2e/%2e%2e/token "main/$spoolfile" "main/by-hash/$zero.delta" \
    "main/by-hash/$(tr a-f A-F <<<"${obj%.*}").snap" "main/by-hash/${obj%.*}.snap.tmp" \
    "main/by-hash/${obj%.*}" main/by-hash/ main/by-hash main/ main main/head/ main/merged \
    main/quarantine other/head "other/by-hash/$obj" head "by-hash/$obj" ""; do
    st=$(get "$p")
    [ "$st" = 404 ] || fail "GET /spool/$p: HTTP $st, want 404"
done
pass "404 for traversal, an unknown object, a spool file outside by-hash/ ($spoolfile), other names"

# Mirrors: one straight from the master's listener, one through an nginx cache.
start_nginx tier1 "$TIER1" "$(cache_tier tier1 "$TIER1" "$PUB")"
write_pull_conf direct "$SP"
start_mirror direct
write_pull_conf cached "http://127.0.0.1:$TIER1/spool/"
start_mirror cached
ALL=(direct cached)
wait_until 20 all_synced "${ALL[@]}" || fail "mirrors did not reach the master's serial $(master_serial)"
pass "both mirrors at the master's serial $(master_serial)"
listing_round 192.0.2.7 "${ALL[@]}"

# The cache kept what the master's Cache-Control allows: no object went to
# the master twice, and heads were revalidated (the master answered 304s
# that nginx turned into REVALIDATED).
twice=$(awk '$2 ~ /by-hash/ && $5 == "MISS" { print $2 }' "$T/tier1/access.log" | sort | uniq -d | wc -l)
[ "$twice" = 0 ] || fail "nginx fetched an object from the master twice"
objs=$(awk '$2 ~ /by-hash/' "$T/tier1/access.log" | wc -l)
[ "$objs" -gt 0 ] || fail "the cached mirror fetched no object through nginx"
reval() { [ "$(awk '$2 ~ /head$/ && $5 == "REVALIDATED"' "$T/tier1/access.log" | wc -l)" -gt 0 ]; }
wait_until 10 reval || fail "nginx never revalidated a head with the master (no 304)"
for w in "${ALL[@]}"; do
    [ "$(scrape "$w" | grep -c '^blsync_mirror_pull_refused_total' || true)" = 0 ] ||
        fail "$w refused something: $(scrape "$w" | grep pull_refused)"
done
pass "nginx: $objs object requests, none fetched twice from the master; heads revalidated; nothing refused"

# Metrics: requests by kind and status.
m() { metric master "blsync_master_spool_requests_total{kind=\"$1\",status=\"$2\"}"; }
[ "$(m head 200)" -ge 1 ] && [ "$(m snapshot 200)" -ge 2 ] && [ "$(m snapshot 405)" = 1 ] &&
    [ "$(m other 404)" -ge 10 ] && [ "$(m delta 404)" = 1 ] ||
    fail "spool request metrics: $(scrape master | grep spool_requests)"
pass "spool requests counted by kind and status: head 200 $(m head 200), other 404 $(m other 404)"

# serve_spool applies on SIGHUP: off, the layout is gone (404); on, it is back.
reload_spool() {
    ini_set "$T/master.conf" "public|serve_spool = $1"
    mark master
    kill -HUP "${PID[master]}"
    wait_up master 10 logged master "event=reloaded what=config.*serve_spool=$1"
}
reload_spool no
[ "$(get main/head)" = 404 ] || fail "serve_spool = no after SIGHUP: the head is still served"
! grep -q 'Blsync\|ETag' "$T/get.hdr" || fail "a spool answer after serve_spool = no"
reload_spool yes
[ "$(get main/head)" = 200 ] || fail "serve_spool = yes after SIGHUP: the head is not served"
pass "serve_spool follows SIGHUP: off 404, on 200"

# A large object to a steady reader takes longer than request_timeout: that
# bounds the request, not the sending of its answer (a mirror on a slow link
# must get a snapshot of any size whole). Nor does idle_timeout cut it while
# the reader takes it, however long the send buffer stays full.
big=$(printf 'ab%.0s' {1..32}).snap
head -c 60000000 /dev/zero >"$T/spool/main/by-hash/$big"
got=$(curl -s -o /dev/null --limit-rate 8M --max-time "$(scaled_int 60)" -w '%{http_code} %{size_download}' \
    "$SP/main/by-hash/$big" || true)
[ "$got" = "200 60000000" ] ||
    fail "a 60 MB object at 8 MB/s (request_timeout 3 s, idle_timeout 1 s): '$got', want all of it"
# A reader that stops taking the object is closed after idle_timeout: what it
# reads afterwards is what the buffers held, then the end of the stream.
got=$("$PY" - "$PUB" "$big" "$(scaled_int 3)" "$(scaled_int 30)" <<'PYEOF'
import socket, sys, time
port, name, stall, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /spool/main/by-hash/%s HTTP/1.1\r\nHost: x\r\n\r\n" % name.encode())
total = len(s.recv(65536))
time.sleep(stall)  # the reader stops: longer than idle_timeout (1 s)
s.settimeout(limit)
end = "eof"
try:
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        total += len(b)
except (socket.timeout, ConnectionResetError) as e:
    end = type(e).__name__
print(end, total)
PYEOF
)
read -r end n <<<"$got"
[ "$end" = eof ] && [ "$n" -lt 60000000 ] ||
    fail "a reader stalled past idle_timeout (1 s): '$got', want the stream ended before the object"
rm -f "$T/spool/main/by-hash/$big"
pass "a 60 MB object read at 8 MB/s arrives whole past request_timeout and idle_timeout; a stalled reader is closed ($n bytes)"
stop_clean cached
finish
