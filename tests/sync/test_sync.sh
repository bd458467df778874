#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end over loopback: the real blsync-master (its publisher and its
# in-process sync server, master/sync_server) serves mutual TLS 1.3; three
# real blsync-mirror daemons ([sync] section) apply and answer DNS;
# everything is checked with dig and the mirrors' /metrics. Covers list/delist on every mirror,
# snapshot bootstrap, resume with deltas, snapshot once the history is gone,
# refusals (unknown key, tampered, replayed, other base, forged heartbeat,
# wrong master certificate or name, revoked mirror), SIGKILL during apply,
# restarts of the master side, and freeze on a hung link.
. "$(dirname "$0")/../lib.sh"
SM=$B/tests/sync/sync_master # a master with another CA's certificate
EVIL=$B/tests/sync/sync_evil
# The hostile and other-CA servers bind port 0 and say which port they got.

# ---- setup -------------------------------------------------------------
pki m1 m2 m3
"$CTL" keygen --out "$T" --name rogue >/dev/null
"$CTL" certs --dir "$T/pki_b" --master-name master.test >/dev/null
write_master_conf "publisher|snapshot_every = 4" "publisher|history_count = 8" \
    "sync|heartbeat_interval = 500ms"

# mirror N [PORT [SERVERNAME]]: mN's config for the master (or another server), and mN started.
mirror() {
    write_mirror_conf "m$1" "sync|master = 127.0.0.1:${2:-$SYNC_PORT}" "sync|server_name = ${3:-master.test}" \
        "sync|backoff_min = 100ms" "sync|backoff_max = 1s"
    start_mirror "m$1"
}
all_in_sync() {
    local m
    for m in m1 m2 m3; do in_sync $m || return 1; done
}
entries_are() { [ "$(master_status .entries)" = "$1" ]; }
counted() { [ "$(metric m1 "$1")" -ge 1 ] 2>/dev/null; } # SERIES: m1 counted one at least

# ---- bootstrap: a base of 1000 listings, then three mirrors -------------
start_master
# Scattered addresses, so that a snapshot weighs more than a few deltas: 1000
# POSTs by one curl (a config file of requests) over one connection.
awk -v seed=$$ -v url="$MASTER_URL/v1/listings" -v tok="$TOK" 'BEGIN { srand(seed); while (n < 1000) {
    ip = sprintf("10.%d.%d.%d", int(rand() * 256), int(rand() * 256), 1 + int(rand() * 254))
    if (!(ip in s)) { s[ip]; n++; if (n > 1) print "next"
        printf "url = \"%s\"\nheader = \"Authorization: Bearer %s\"\n", url, tok
        printf "data = \"{\\\"prefix\\\":\\\"%s\\\",\\\"comment\\\":\\\"base\\\"}\"\nsilent\nfail\noutput = /dev/null\n", ip } } }' \
    >"$T/base.curl"
curl --fail-early -K "$T/base.curl" || fail "base listings refused"
list 192.0.2.1
wait_until 20 entries_are 1001 || fail "base listings not stored"
wait_published 0 >/dev/null
wait_until 10 published_all || fail "base listings not published"
for i in 1 2 3; do mirror $i; done
wait_until 20 all_answer 192.0.2.1 127.0.0.2 m1 m2 m3 || fail "listing not on every mirror after bootstrap"
wait_until 10 all_in_sync || fail "mirror serials differ from the master's"
# A mirror answers with the new state a moment before it logs the apply.
for i in 1 2 3; do
    wait_until 5 grep -q "event=sync_applied feed=main type=snapshot" "$T/m$i.log" ||
        fail "m$i did not bootstrap from a snapshot"
done
is_answer m1 "$(awk -v seed=$$ 'BEGIN { srand(seed); printf "10.%d.%d.%d", int(rand() * 256),
    int(rand() * 256), 1 + int(rand() * 254) }')" 127.0.0.2 || fail "base entry missing on m1"
pass "three mirrors bootstrapped from a snapshot at serial $(master_serial)"

# ---- list, then delist: on every mirror, timed --------------------------
S=$(master_serial)
t0=$(now_ms)
list 198.51.100.7
wait_until 10 all_answer 198.51.100.7 127.0.0.2 m1 m2 m3 || fail "new listing did not reach every mirror"
t_list=$(($(now_ms) - t0))
wait_until 10 all_in_sync || fail "serials differ after listing"
t0=$(now_ms)
delist 198.51.100.7
wait_until 10 all_answer 198.51.100.7 nx m1 m2 m3 || fail "delisting did not reach every mirror"
t_delist=$(($(now_ms) - t0))
wait_until 10 all_in_sync || fail "serials differ after delisting"
is_answer m2 192.0.2.1 127.0.0.2 || fail "unrelated listing lost"
# A mirror updates its metrics just after it serves what it applied.
observed() { # WHO KIND: WHO's KIND propagation histogram counted one at least
    [ "$(metric "$1" "blsync_mirror_${2}_propagation_seconds_count{feed=\"main\"}")" -ge 1 ] 2>/dev/null
}
for i in 1 2 3; do
    wait_until 5 observed m$i delisting ||
        fail "m$i observed no delisting propagation (count $(metric m$i 'blsync_mirror_delisting_propagation_seconds_count{feed="main"}'))"
    wait_until 5 observed m$i listing ||
        fail "m$i observed no listing propagation (count $(metric m$i 'blsync_mirror_listing_propagation_seconds_count{feed="main"}'))"
    wait_until 5 synced m$i || fail "m$i metric serial differs from the master's"
    [ "$(metric m$i 'blsync_mirror_connected{feed="main"}')" = 1 ] || fail "m$i not connected by metrics"
done
# One delisting so far: each mirror observed exactly one, decided at the
# master to applied here, which cannot exceed the API-call-to-dig time.
for i in 1 2 3; do
    [ "$(metric m$i 'blsync_mirror_delisting_propagation_seconds_count{feed="main"}')" = 1 ] ||
        fail "m$i counted other than one delisting"
    awk -v s="$(metric m$i 'blsync_mirror_delisting_propagation_seconds_sum{feed="main"}')" \
        -v t="$t_delist" 'BEGIN { exit !(s > 0 && s * 1000 <= t + 50) }' ||
        fail "m$i delisting propagation $(metric m$i 'blsync_mirror_delisting_propagation_seconds_sum{feed="main"}') s, dig saw it in $t_delist ms"
done
# The master's serial reaches m1 with the next heartbeat; behind_seconds follows at m1's tick.
wait_until 5 metric_is m1 'blsync_mirror_master_serial{feed="main"}' "$(master_serial)" ||
    fail "m1 master_serial metric is not the master's serial"
wait_until 5 metric_is m1 'blsync_mirror_behind_seconds{feed="main"}' 0 ||
    fail "m1 behind while in sync: $(metric m1 'blsync_mirror_behind_seconds{feed="main"}') s"
d_sum=$(metric m1 'blsync_mirror_delisting_propagation_seconds_sum{feed="main"}')
pass "listing on all 3 mirrors in ${t_list} ms, delisting (NXDOMAIN on all 3) in ${t_delist} ms (API call to dig); m1 delisting propagation histogram sum ${d_sum} s"

# ---- a mirror offline across several publishes resumes with deltas ------
stop m3
S=$(master_serial)
for ip in 203.0.113.1 203.0.113.2 203.0.113.3; do
    list $ip
    S=$(wait_published "$S")
done
mirror 3
wait_until 10 in_sync m3 || fail "m3 did not catch up after a restart"
wait_until 5 logged m3 "event=sync_applied feed=main type=delta serial=$S " || fail "m3 did not log the apply of $S"
logged m3 "event=sync_state_restored feed=main serial=$((S - 3))" ||
    fail "m3 did not resume from its persisted serial $((S - 3))"
n_delta=$(since m3 | grep -c "event=sync_applied feed=main type=delta" || true)
logged m3 "type=snapshot" && fail "m3 got a snapshot, deltas expected"
[ "$n_delta" = 3 ] || fail "m3 applied $n_delta deltas, expected 3"
is_answer m3 203.0.113.3 127.0.0.2 || fail "m3 lacks the new listing"
pass "m3 resumed from serial $((S - 3)) with 3 deltas"

# ---- many publishes while offline: one merged delta ----------------------
stop m3
S0=$(master_serial)
S=$S0
list 203.0.113.50 && S=$(wait_published "$S")
list 203.0.113.51 && S=$(wait_published "$S")
delist 203.0.113.50 && S=$(wait_published "$S") # added and removed while m3 was away
delist 203.0.113.3 && S=$(wait_published "$S")  # m3 had it: a removal
list 203.0.113.52 && S=$(wait_published "$S")
mirror 3
wait_until 10 in_sync m3 || fail "m3 did not catch up with a merged delta"
wait_until 5 logged m3 "event=sync_applied feed=main type=delta serial=$S from=$S0 " ||
    fail "m3 did not apply one delta from $S0 to $S"
applied=$(since m3 | grep -c "event=sync_applied" || true)
[ "$applied" = 1 ] || fail "m3 applied $applied objects, expected 1 merged delta"
grep -q "event=merged feed=main from=$S0 to=$S deltas=5" "$T/master.log" ||
    fail "the master did not log the merge"
for a in "203.0.113.50 nx" "203.0.113.51 127.0.0.2" "203.0.113.3 nx" "203.0.113.52 127.0.0.2"; do
    set -- $a
    is_answer m3 "$1" "$2" || fail "m3 answers $(answer m3 "$1") for $1 after the merged delta"
done
pass "m3 offline across 5 publishes: one merged delta ($S0 -> $S), answers match"

# ---- history gone: a snapshot --------------------------------------------
stop m2
S0=$(master_serial)
S=$S0
for k in $(seq 1 12); do
    list 203.0.113.$((10 + k))
    S=$(wait_published "$S")
done
[ ! -e "$T/spool/main/$(printf %020d $((S0 + 1))).delta" ] || fail "history not pruned"
mirror 2
wait_until 10 in_sync m2 || fail "m2 did not catch up once history was gone"
wait_until 5 logged m2 "event=sync_applied feed=main type=snapshot" || fail "m2 did not receive a snapshot"
is_answer m2 203.0.113.22 127.0.0.2 || fail "m2 lacks a listing after the snapshot"
pass "m2 offline past the history: resynchronised from a snapshot"

# ---- refusals: a hostile master ------------------------------------------
S=$(master_serial)
SP="$T/spool/main"
head_delta=$(ls "$SP"/*.delta | sort | tail -1)
old_delta=$(ls "$SP"/*.delta | sort | sed -n 1p)
stop m1
# Objects that extend the mirror's state but must not be accepted.
cp "$head_delta" "$T/head.delta"
"$EVIL" "$T/pki/master.pem" "$T/pki/master.key" "$T/pki/ca.pem" 0 \
    "reseal:$T/rogue.key:$T/head.delta:$S:$((S + 1))" \
    "tamper:$T/head.delta" \
    "$old_delta" \
    "reseal:$T/sign.key:$T/head.delta:$((S - 2)):$((S + 5))" \
    "baddigest:$T/sign.key:$T/head.delta" \
    "hb:$T/rogue.key:main:$((S + 9))" >"$T/evil.out" 2>&1 &
track evil $!
wait_until 5 grep -q listening "$T/evil.out" || fail "evil server did not start"
EVILP=$(awk '/^listening/ {print $2; exit}' "$T/evil.out")
mirror 1 "$EVILP"
wait_until 10 grep -q "^sent 6" "$T/evil.out" || fail "hostile objects not sent"
for e in "what=object serial=$((S + 1)) error=unknown_key" "what=object serial=$S error=payload_hash" \
    "what=delta serial=$(basename "$old_delta" .delta | sed 's/^0*//') error=rollback" \
    "what=delta serial=$((S + 5)) error=base_serial" \
    "what=delta serial=$((S + 1)) error=digest_mismatch" "what=heartbeat serial=0 error=unknown_key"; do
    wait_until 5 logged m1 "event=sync_refused feed=[a-z-]* $e" || fail "m1 log lacks refusal '$e'"
done
grep -q "^ack" "$T/evil.out" && fail "m1 acknowledged a hostile object"
wait_until 5 logged m1 "event=sync_hello feed=main serial=$S snapshot=1" ||
    fail "m1 did not ask for a snapshot after a digest mismatch"
[ "$(soa_serial m1)" = "$S" ] || fail "m1 serial moved to $(soa_serial m1)"
for r in 'deltas_refused_total{feed="main",reason="unknown_key"}' \
    'deltas_refused_total{feed="main",reason="payload_hash"}' \
    'deltas_refused_total{feed="main",reason="rollback"}' \
    'deltas_refused_total{feed="main",reason="base_serial"}' \
    'deltas_refused_total{feed="main",reason="digest_mismatch"}'; do
    wait_until 5 counted "blsync_mirror_$r" || fail "m1 metrics lack $r"
done
is_answer m1 192.0.2.1 127.0.0.2 || fail "m1 stopped serving its last good state"
stop m1
stop evil
pass "unknown key, tampered, replayed, other-base, wrong-digest deltas and a forged heartbeat refused; last good state served, snapshot asked"

# ---- refusals: the master's certificate ---------------------------------
"$SM" --spool "$T/spool" --key "$T/sign.key" --cert "$T/pki_b/master.pem" \
    --tls-key "$T/pki_b/master.key" --ca "$T/pki/ca.pem" --port 0 \
    >"$T/other.out" 2>"$T/other.log" &
track other $!
wait_until 5 grep -q listening "$T/other.out" || fail "other-CA server did not start"
OTHERP=$(awk '/^listening/ {print $2; exit}' "$T/other.out")
mirror 1 "$OTHERP"
wait_until 5 logged m1 'certificate verify failed' ||
    fail "m1 accepted a master certificate from another CA"
stop m1
stop other
mirror 1 "$SYNC_PORT" wrong.test
wait_until 5 logged m1 'hostname mismatch' || fail "m1 accepted a master certificate for another name"
logged m1 "event=sync_connected" && fail "m1 connected to a wrong name"
stop m1
pass "master certificate from another CA, or for another name, refused by the mirror"

# m1 back on the real master; m3 revoked by name while connected.
mirror 1
wait_until 10 in_sync m1 || fail "m1 did not catch up"
echo m3 >"$T/revoked"
kill -HUP "${PID[master]}"
wait_until 5 grep -qE "sync_mirror_down mirror=m3 sid=[0-9]+ reason=\"certificate revoked\"" "$T/master.log" ||
    fail "revoked m3 not disconnected"
wait_until 5 grep -q "sync_refused .*certificate revoked" "$T/master.log" ||
    fail "revoked m3 not refused on reconnect"
: >"$T/revoked"
kill -HUP "${PID[master]}"
pass "revoked mirror disconnected and refused by the master"

# ---- SIGKILL during apply, many times ------------------------------------
S=$(master_serial)
for k in $(seq 1 8); do
    list 203.0.113.$((100 + k))
    sleep 0.0$((RANDOM % 9)) # a random moment to kill, on purpose
    stop m2 KILL
    mirror 2
    S=$(wait_published "$S")
done
wait_until 15 in_sync m2 || fail "m2 inconsistent after SIGKILLs: $(soa_serial m2) vs $(master_serial)"
is_answer m2 203.0.113.108 127.0.0.2 || fail "m2 lacks the last listing after SIGKILLs"
is_answer m2 192.0.2.1 127.0.0.2 || fail "m2 lost an old listing after SIGKILLs"
grep -q "sync_state_refused" "$T/m2.log" && fail "m2 found an inconsistent persisted state"
pass "m2 killed 8 times around applies: restarts consistent and catches up"

# ---- SIGTERM: graceful exit, restart resumes the same serial, no object ----
wait_until 10 in_sync m1 || fail "m1 not in sync before SIGTERM"
S=$(soa_serial m1)
stop m1 TERM
grep -q "event=stopped" "$T/m1.log" || fail "m1 did not log a graceful stop"
mirror 1
wait_until 10 logged m1 'event=sync_connected' || fail "m1 did not reconnect"
wait_until 5 in_sync m1 || fail "m1 not in sync after a restart"
logged m1 "event=sync_state_restored feed=main serial=$S " || fail "m1 did not restore serial $S"
logged m1 "event=sync_applied" && fail "m1 needed an object after a clean restart"
mark m1
kill -HUP "${PID[m1]}"
wait_until 5 logged m1 'event=reloaded' || fail "m1 did not reload on SIGHUP"
list 198.51.100.77
wait_until 10 is_answer m1 198.51.100.77 127.0.0.2 || fail "m1 stopped following after SIGHUP"
logged m1 "event=sync_disconnected" && fail "SIGHUP dropped the sync session"
pass "SIGHUP kept the sync session; SIGTERM: m1 exited cleanly, restarted at serial $S without a snapshot or delta"

# ---- the master side restarted: reconnect, catch up, no duplicate apply --
wait_until 10 in_sync m3 || true
stop master
start_master
list 198.51.100.99
wait_until 15 all_answer 198.51.100.99 127.0.0.2 m1 m2 m3 || fail "mirrors did not catch up after a master restart"
wait_until 10 all_in_sync || fail "serials differ after the master restart"
for i in 1 3; do
    dup=$(grep "event=sync_applied feed=main type=delta" "$T/m$i.log" | grep -o "serial=[0-9]*" |
        sort | uniq -d | sed -n 1p)
    [ -z "$dup" ] || fail "m$i applied $dup twice"
done
n=$(metric m3 'blsync_mirror_reconnects_total{feed="main"}')
[ "${n:-0}" -ge 1 ] || fail "m3 counted ${n:-no} reconnects across a revocation and a master restart"
pass "master restarted: mirrors reconnected and caught up, no serial applied twice"

# ---- signing key rotation: the new key signed by the old one ------------
"$CTL" keygen --out "$T" --name sign2 >/dev/null
"$CTL" keycert --old-key "$T/sign.key" --new-key "$T/sign2.key" --feed main \
    --out "$T/spool/main/key-2.keycert" >/dev/null
kill -HUP "${PID[master]}" # the sync server rescans the spool and pushes the key certificate
wait_until 5 grep -q "event=sync_new_key" "$T/m1.log" || fail "m1 did not learn the new key"
cp "$T/sign2.key" "$T/sign.key.new" && mv "$T/sign.key.new" "$T/sign.key" # the publisher re-reads it
mark master
kill -HUP "${PID[master]}" # heartbeats too
# The listing is published after the reload, so that the new key signs it.
wait_until 10 logged master 'event=reloaded what=key .*result=ok' || fail "the master did not reload its key"
list 198.51.100.150
wait_until 10 all_answer 198.51.100.150 127.0.0.2 m1 m2 m3 || fail "a delta signed by the new key did not apply"
grep -q "error=unknown_key" <(tail -n 50 "$T/m2.log") && fail "m2 refused the new key"
stop m1
mirror 1
wait_until 10 in_sync m1 || fail "m1 did not resume after the rotation"
logged m1 "event=sync_state_key" || fail "m1 did not restore the new key"
logged m1 "sync_state_refused" && fail "m1 refused its own state after rotation"
is_answer m1 198.51.100.150 127.0.0.2 || fail "m1 lost the listing signed by the new key"
pass "signing key rotated without reconfiguring mirrors (new key signed by the old, kept across restarts)"

# ---- a hung link: stale, then frozen (no positive answers), then back ---
# The other mirrors keep generous freshness limits (a slow machine must not
# freeze them); m1 gets short ones here.
stop m1
write_mirror_conf m1 "sync|backoff_min = 100ms" "sync|backoff_max = 1s" \
    "sync|stale_after = 1500ms" "sync|freeze_after = 3s"
start_mirror m1
wait_until 10 in_sync m1 || fail "m1 did not resume with short freshness limits"
kill -STOP "${PID[master]}"
wait_until 10 logged m1 "event=sync_freshness feed=main level=stale" || fail "m1 did not turn stale"
wait_until 10 is_answer m1 192.0.2.1 nx || fail "m1 still answers positively while frozen"
logged m1 "event=sync_freshness feed=main level=frozen" || fail "m1 did not log frozen"
# The metric follows the answers' switch: it may take a moment.
wait_until 5 metric_is m1 'blsync_mirror_stale{feed="main"}' 2 || fail "m1 metrics do not say frozen"
is_answer m1 192.0.2.1 nx || fail "m1 answers positively while frozen"
kill -CONT "${PID[master]}"
wait_until 10 is_answer m1 192.0.2.1 127.0.0.2 || fail "m1 did not recover when the link returned"
wait_until 5 metric_is m1 'blsync_mirror_stale{feed="main"}' 0 || fail "m1 metrics still say stale"
pass "hung link: stale after 1.5 s, no positive answers after 3 s, recovered"

# ---- no secret in any log: the private keys' material never appears -----
for f in "$T"/pki/mirror-m*.key "$T/sign.key"; do
    secret=$(grep -v -- '-----' "$f" | sed -n 1p)
    [ -n "$secret" ] || secret=$(head -c 48 "$f")
    grep -qF -- "$secret" "$T"/m*.log && fail "key material of $f logged"
done
grep -q "PRIVATE KEY" "$T"/m*.log && fail "a private key was logged"
pass "no key material in the mirrors' logs"

echo "all sync protocol checks passed"
