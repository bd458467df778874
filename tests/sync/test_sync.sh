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
set -euo pipefail

B=$BL_BUILD
CTL=$B/master/blsyncctl
MASTER=$B/master/blsync-master
SM=$B/tests/sync/sync_master # a master with another CA's certificate
MIR=$B/mirror/blsync-mirror
EVIL=$B/tests/sync/sync_evil
T=$(mktemp -d /tmp/bl_sync.XXXXXX)
# 20 free ports below the ephemeral range (ports.sh).
. "$(dirname "$0")/ports.sh"
pick_ports 20
HTTP=$BASE
SYNC=$((BASE + 1))
# The hostile and other-CA servers bind port 0 and say which port they got.
declare -A PID=()

cleanup() {
    for p in "${PID[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.log "$T"/*.out; do
        [ -f "$f" ] || continue
        echo "--- $f (tail)" >&2
        tail -n 25 "$f" >&2
    done
    exit 1
}
pass() { echo "ok: $*"; }
now_ms() { date +%s%3N; }

# wait_until TIMEOUT_S COMMAND...: polls every 20 ms.
wait_until() {
    local limit=$(($(now_ms) + $1 * 1000))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -lt "$limit" ] || return 1
        sleep 0.02
    done
}

# ---- setup -------------------------------------------------------------
"$CTL" keygen --out "$T" --name sign >/dev/null
"$CTL" keygen --out "$T" --name rogue >/dev/null
"$CTL" certs --dir "$T/pki" --master-name master.test --mirror m1 --mirror m2 --mirror m3 >/dev/null
"$CTL" certs --dir "$T/pki_b" --master-name master.test >/dev/null
echo "tok$$" >"$T/token"
: >"$T/revoked"
cat >"$T/master.conf" <<EOF
[master]
feed = main
db = $T/master.db
[http]
listen = 127.0.0.1:$HTTP
token_file = $T/token
[publisher]
spool = $T/spool
key = $T/sign.key
delay = 10ms
max_delay = 50ms
snapshot_every = 4
history_count = 8
[sync]
listen = 127.0.0.1:$SYNC
cert = $T/pki/master.pem
tls_key = $T/pki/master.key
ca = $T/pki/ca.pem
revoked = $T/revoked
heartbeat_interval = 500ms
EOF

start_master() {
    "$MASTER" -c "$T/master.conf" >>"$T/master.log" 2>&1 &
    PID[master]=$!
    wait_until 10 curl -sf "http://127.0.0.1:$HTTP/v1/health" || fail "blsync-master did not start"
    wait_until 5 grep -q "event=sync_listen host=127.0.0.1 port=$SYNC" "$T/master.log" ||
        fail "blsync-master runs no sync server"
}
# start_mirror N [PORT [SERVERNAME]]: the real blsync-mirror with a [sync] section.
start_mirror() {
    local i=$1 port=${2:-$SYNC} name=${3:-master.test}
    mkdir -p "$T/m$i"
    cat >"$T/m$i/mirror.conf" <<EOF
[server]
listen = 127.0.0.1:$((BASE + 10 + i))
threads = 1
metrics_listen = 127.0.0.1:0
[sync]
master = 127.0.0.1:$port
server_name = $name
cert = $T/pki/mirror-m$i.pem
key = $T/pki/mirror-m$i.key
ca = $T/pki/ca.pem
state_dir = $T/m$i/state
backoff_min = 100ms
backoff_max = 1s
stale_after = ${STALE:-20s}
freeze_after = ${FREEZE:-40s}
[zone bl.test]
feed = main
ttl = 1
trusted_key = $T/sign.pub
EOF
    "$MIR" -c "$T/m$i/mirror.conf" >>"$T/m$i.log" 2>&1 &
    PID[m$i]=$!
}
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
# metric N NAME-AND-LABELS: the value of one series of mirror N's /metrics.
metric() {
    local port
    port=$(grep -o "event=metrics addr=[^ ]* port=[0-9]*" "$T/m$1.log" | tail -1 | sed 's/.*port=//')
    curl -sf "http://127.0.0.1:$port/metrics" | awk -v k="$2" '$1 == k { print $2 }'
}
stop() { # NAME [SIGNAL]
    local p=${PID[$1]}
    kill -"${2:-TERM}" "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    unset "PID[$1]"
}

api() { # METHOD PATH [BODY]
    curl -sf -X "$1" -H "Authorization: Bearer tok$$" ${3:+-d "$3"} "http://127.0.0.1:$HTTP$2"
}
list() { api POST /v1/listings "{\"prefix\":\"$1\",\"comment\":\"test\"}" >/dev/null; }
delist() { api DELETE "/v1/listings/$1?reason=technical-error" >/dev/null; }
master_serial() { curl -sf "http://127.0.0.1:$HTTP/v1/status" | jq -r .serial; }
rev() { echo "$1" | awk -F. '{print $4"."$3"."$2"."$1}'; }
answer() { # MIRROR IP: the A answer or "nx"
    local out
    out=$(dig +time=1 +tries=1 +short @127.0.0.1 -p $((BASE + 10 + $1)) "$(rev "$2").bl.test" A)
    echo "${out:-nx}"
}
mserial() { dig +time=1 +tries=1 +short @127.0.0.1 -p $((BASE + 10 + $1)) bl.test SOA | awk '{print $3}'; }
is_answer() { [ "$(answer "$1" "$2")" = "$3" ]; }
all_answer() { # IP EXPECTED
    for i in 1 2 3; do is_answer $i "$1" "$2" || return 1; done
}
in_sync() { [ "$(mserial "$1")" = "$(master_serial)" ]; }
all_in_sync() { for i in 1 2 3; do in_sync $i || return 1; done; }
# Waits until the master has published serial > $1, prints the new serial.
wait_published() {
    local before=$1
    wait_until 10 bash -c "[ \$(curl -sf http://127.0.0.1:$HTTP/v1/status | jq -r .serial) -gt $before ]" ||
        fail "master did not publish past $before"
    master_serial
}

# ---- bootstrap: a base of 1000 listings, then three mirrors -------------
start_master
# Scattered addresses, so that a snapshot weighs more than a few deltas.
awk -v seed=$$ 'BEGIN { srand(seed); while (n < 1000) { ip = sprintf("10.%d.%d.%d",
    int(rand() * 256), int(rand() * 256), 1 + int(rand() * 254)); if (!(ip in s)) { s[ip]; n++;
    printf "{\"prefix\":\"%s\",\"comment\":\"base\"}\n", ip } } }' | xargs -d '\n' -P 8 -I{} curl -sf -X POST -H "Authorization: Bearer tok$$" -d {} \
    "http://127.0.0.1:$HTTP/v1/listings" >/dev/null
list 192.0.2.1
wait_until 20 bash -c "[ \$(curl -sf http://127.0.0.1:$HTTP/v1/status | jq -r .entries) = 1001 ]" ||
    fail "base listings not stored"
S=$(wait_published 0)
sleep 0.3
for i in 1 2 3; do start_mirror $i; done
wait_until 20 all_answer 192.0.2.1 127.0.0.2 || fail "listing not on every mirror after bootstrap"
wait_until 10 all_in_sync || fail "mirror serials differ from the master's"
for i in 1 2 3; do
    grep -q "event=sync_applied feed=main type=snapshot" "$T/m$i.log" ||
        fail "m$i did not bootstrap from a snapshot"
done
is_answer 1 "$(awk -v seed=$$ 'BEGIN { srand(seed); printf "10.%d.%d.%d", int(rand() * 256),
    int(rand() * 256), 1 + int(rand() * 254) }')" 127.0.0.2 || fail "base entry missing on m1"
pass "three mirrors bootstrapped from a snapshot at serial $(master_serial)"

# ---- list, then delist: on every mirror, timed --------------------------
S=$(master_serial)
t0=$(now_ms)
list 198.51.100.7
wait_until 10 all_answer 198.51.100.7 127.0.0.2 || fail "new listing did not reach every mirror"
t_list=$(($(now_ms) - t0))
wait_until 10 all_in_sync || fail "serials differ after listing"
t0=$(now_ms)
delist 198.51.100.7
wait_until 10 all_answer 198.51.100.7 nx || fail "delisting did not reach every mirror"
t_delist=$(($(now_ms) - t0))
wait_until 10 all_in_sync || fail "serials differ after delisting"
is_answer 2 192.0.2.1 127.0.0.2 || fail "unrelated listing lost"
for i in 1 2 3; do
    n=$(metric $i 'blsync_mirror_delisting_propagation_seconds_count{feed="main"}')
    [ "${n:-0}" -ge 1 ] || fail "m$i observed no delisting propagation (count ${n:-none})"
    n=$(metric $i 'blsync_mirror_listing_propagation_seconds_count{feed="main"}')
    [ "${n:-0}" -ge 1 ] || fail "m$i observed no listing propagation (count ${n:-none})"
    [ "$(metric $i 'blsync_mirror_serial{feed="main"}')" = "$(master_serial)" ] ||
        fail "m$i metric serial differs from the master's"
    [ "$(metric $i 'blsync_mirror_connected{feed="main"}')" = 1 ] || fail "m$i not connected by metrics"
done
# One delisting so far: each mirror observed exactly one, decided at the
# master to applied here, which cannot exceed the API-call-to-dig time.
for i in 1 2 3; do
    [ "$(metric $i 'blsync_mirror_delisting_propagation_seconds_count{feed="main"}')" = 1 ] ||
        fail "m$i counted other than one delisting"
    awk -v s="$(metric $i 'blsync_mirror_delisting_propagation_seconds_sum{feed="main"}')" \
        -v t="$t_delist" 'BEGIN { exit !(s > 0 && s * 1000 <= t + 50) }' ||
        fail "m$i delisting propagation $(metric $i 'blsync_mirror_delisting_propagation_seconds_sum{feed="main"}') s, dig saw it in $t_delist ms"
done
wait_until 3 metric_is 1 'blsync_mirror_master_serial{feed="main"}' "$(master_serial)" ||
    fail "m1 master_serial metric is not the master's serial"
[ "$(metric 1 'blsync_mirror_behind_seconds{feed="main"}')" = 0 ] || fail "m1 behind while in sync"
d_sum=$(metric 1 'blsync_mirror_delisting_propagation_seconds_sum{feed="main"}')
pass "listing on all 3 mirrors in ${t_list} ms, delisting (NXDOMAIN on all 3) in ${t_delist} ms (API call to dig); m1 delisting propagation histogram sum ${d_sum} s"

# ---- a mirror offline across several publishes resumes with deltas ------
stop m3
S=$(master_serial)
for ip in 203.0.113.1 203.0.113.2 203.0.113.3; do
    list $ip
    S=$(wait_published "$S")
done
mark=$(($(wc -l <"$T/m3.log") + 1))
start_mirror 3
wait_until 10 in_sync 3 || fail "m3 did not catch up after a restart"
tail -n +"$mark" "$T/m3.log" | grep -q "event=sync_state_restored feed=main serial=$((S - 3))" ||
    fail "m3 did not resume from its persisted serial $((S - 3))"
n_delta=$(tail -n +"$mark" "$T/m3.log" | grep -c "event=sync_applied feed=main type=delta" || true)
tail -n +"$mark" "$T/m3.log" | grep -q "type=snapshot" && fail "m3 got a snapshot, deltas expected"
[ "$n_delta" = 3 ] || fail "m3 applied $n_delta deltas, expected 3"
is_answer 3 203.0.113.3 127.0.0.2 || fail "m3 lacks the new listing"
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
mark=$(($(wc -l <"$T/m3.log") + 1))
start_mirror 3
wait_until 10 in_sync 3 || fail "m3 did not catch up with a merged delta"
applied=$(tail -n +"$mark" "$T/m3.log" | grep -c "event=sync_applied" || true)
tail -n +"$mark" "$T/m3.log" | grep -q "event=sync_applied feed=main type=delta serial=$S from=$S0 " ||
    fail "m3 did not apply one delta from $S0 to $S"
[ "$applied" = 1 ] || fail "m3 applied $applied objects, expected 1 merged delta"
grep -q "event=merged feed=main from=$S0 to=$S deltas=5" "$T/master.log" ||
    fail "the master did not log the merge"
for a in "203.0.113.50 nx" "203.0.113.51 127.0.0.2" "203.0.113.3 nx" "203.0.113.52 127.0.0.2"; do
    set -- $a
    is_answer 3 "$1" "$2" || fail "m3 answers $(answer 3 "$1") for $1 after the merged delta"
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
mark=$(($(wc -l <"$T/m2.log") + 1))
start_mirror 2
wait_until 10 in_sync 2 || fail "m2 did not catch up once history was gone"
tail -n +"$mark" "$T/m2.log" | grep -q "event=sync_applied feed=main type=snapshot" ||
    fail "m2 did not receive a snapshot"
is_answer 2 203.0.113.22 127.0.0.2 || fail "m2 lacks a listing after the snapshot"
pass "m2 offline past the history: resynchronised from a snapshot"

# ---- refusals: a hostile master ------------------------------------------
S=$(master_serial)
SP="$T/spool/main"
head_delta=$(ls "$SP"/*.delta | sort | tail -1)
old_delta=$(ls "$SP"/*.delta | sort | head -1)
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
PID[evil]=$!
wait_until 5 grep -q listening "$T/evil.out" || fail "evil server did not start"
EVILP=$(awk '/^listening/ {print $2; exit}' "$T/evil.out")
mark=$(($(wc -l <"$T/m1.log") + 1))
start_mirror 1 "$EVILP"
wait_until 10 grep -q "^sent 6" "$T/evil.out" || fail "hostile objects not sent"
sleep 0.5
log1=$(tail -n +"$mark" "$T/m1.log")
for e in "what=object serial=$((S + 1)) error=unknown_key" "what=object serial=$S error=payload_hash" \
    "what=delta serial=$(basename "$old_delta" .delta | sed 's/^0*//') error=rollback" \
    "what=delta serial=$((S + 5)) error=base_serial" \
    "what=delta serial=$((S + 1)) error=digest_mismatch" "what=heartbeat serial=0 error=unknown_key"; do
    grep -q "event=sync_refused feed=[a-z-]* $e" <<<"$log1" || fail "m1 log lacks refusal '$e'"
done
grep -q "^ack" "$T/evil.out" && fail "m1 acknowledged a hostile object"
wait_until 5 bash -c "tail -n +$mark $T/m1.log | grep -q 'event=sync_hello feed=main serial=$S snapshot=1'" ||
    fail "m1 did not ask for a snapshot after a digest mismatch"
[ "$(mserial 1)" = "$S" ] || fail "m1 serial moved to $(mserial 1)"
for r in 'deltas_refused_total{feed="main",reason="unknown_key"}' \
    'deltas_refused_total{feed="main",reason="payload_hash"}' \
    'deltas_refused_total{feed="main",reason="rollback"}' \
    'deltas_refused_total{feed="main",reason="base_serial"}' \
    'deltas_refused_total{feed="main",reason="digest_mismatch"}'; do
    [ "$(metric 1 "blsync_mirror_$r")" -ge 1 ] 2>/dev/null || fail "m1 metrics lack $r"
done
is_answer 1 192.0.2.1 127.0.0.2 || fail "m1 stopped serving its last good state"
stop m1
stop evil
pass "unknown key, tampered, replayed, other-base, wrong-digest deltas and a forged heartbeat refused; last good state served, snapshot asked"

# ---- refusals: the master's certificate ---------------------------------
"$SM" --spool "$T/spool" --key "$T/sign.key" --cert "$T/pki_b/master.pem" \
    --tls-key "$T/pki_b/master.key" --ca "$T/pki/ca.pem" --port 0 \
    >"$T/other.out" 2>"$T/other.log" &
PID[other]=$!
wait_until 5 grep -q listening "$T/other.out" || fail "other-CA server did not start"
OTHERP=$(awk '/^listening/ {print $2; exit}' "$T/other.out")
mark=$(($(wc -l <"$T/m1.log") + 1))
start_mirror 1 "$OTHERP"
wait_until 5 bash -c "tail -n +$mark $T/m1.log | grep -q 'certificate verify failed'" ||
    fail "m1 accepted a master certificate from another CA"
stop m1
stop other
mark=$(($(wc -l <"$T/m1.log") + 1))
start_mirror 1 "$SYNC" wrong.test
wait_until 5 bash -c "tail -n +$mark $T/m1.log | grep -q 'hostname mismatch'" ||
    fail "m1 accepted a master certificate for another name"
tail -n +"$mark" "$T/m1.log" | grep -q "event=sync_connected" && fail "m1 connected to a wrong name"
stop m1
pass "master certificate from another CA, or for another name, refused by the mirror"

# m1 back on the real master; m3 revoked by name while connected.
start_mirror 1
wait_until 10 in_sync 1 || fail "m1 did not catch up"
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
    sleep 0.0$((RANDOM % 9))
    stop m2 KILL
    start_mirror 2
    S=$(wait_published "$S")
done
wait_until 15 in_sync 2 || fail "m2 inconsistent after SIGKILLs: $(mserial 2) vs $(master_serial)"
is_answer 2 203.0.113.108 127.0.0.2 || fail "m2 lacks the last listing after SIGKILLs"
is_answer 2 192.0.2.1 127.0.0.2 || fail "m2 lost an old listing after SIGKILLs"
grep -q "sync_state_refused" "$T/m2.log" && fail "m2 found an inconsistent persisted state"
pass "m2 killed 8 times around applies: restarts consistent and catches up"

# ---- SIGTERM: graceful exit, restart resumes the same serial, no object ----
wait_until 10 in_sync 1 || fail "m1 not in sync before SIGTERM"
S=$(mserial 1)
stop m1 TERM
grep -q "event=stopped" "$T/m1.log" || fail "m1 did not log a graceful stop"
mark=$(($(wc -l <"$T/m1.log") + 1))
start_mirror 1
wait_until 10 bash -c "tail -n +$mark $T/m1.log | grep -q 'event=sync_connected'" || fail "m1 did not reconnect"
wait_until 5 in_sync 1 || fail "m1 not in sync after a restart"
tail -n +"$mark" "$T/m1.log" | grep -q "event=sync_state_restored feed=main serial=$S " ||
    fail "m1 did not restore serial $S"
tail -n +"$mark" "$T/m1.log" | grep -q "event=sync_applied" && fail "m1 needed an object after a clean restart"
mark=$(($(wc -l <"$T/m1.log") + 1))
kill -HUP "${PID[m1]}"
wait_until 5 bash -c "tail -n +$mark $T/m1.log | grep -q 'event=reloaded'" || fail "m1 did not reload on SIGHUP"
list 198.51.100.77
wait_until 10 is_answer 1 198.51.100.77 127.0.0.2 || fail "m1 stopped following after SIGHUP"
tail -n +"$mark" "$T/m1.log" | grep -q "event=sync_disconnected" && fail "SIGHUP dropped the sync session"
pass "SIGHUP kept the sync session; SIGTERM: m1 exited cleanly, restarted at serial $S without a snapshot or delta"

# ---- the master side restarted: reconnect, catch up, no duplicate apply --
wait_until 10 in_sync 3 || true
stop master
start_master
list 198.51.100.99
wait_until 15 all_answer 198.51.100.99 127.0.0.2 || fail "mirrors did not catch up after a master restart"
wait_until 10 all_in_sync || fail "serials differ after the master restart"
for i in 1 3; do
    dup=$(grep "event=sync_applied feed=main type=delta" "$T/m$i.log" | grep -o "serial=[0-9]*" |
        sort | uniq -d | head -1)
    [ -z "$dup" ] || fail "m$i applied $dup twice"
done
n=$(metric 3 'blsync_mirror_reconnects_total{feed="main"}')
[ "${n:-0}" -ge 1 ] || fail "m3 counted ${n:-no} reconnects across a revocation and a master restart"
pass "master restarted: mirrors reconnected and caught up, no serial applied twice"

# ---- signing key rotation: the new key signed by the old one ------------
"$CTL" keygen --out "$T" --name sign2 >/dev/null
"$B/master/blsyncctl" keycert --old-key "$T/sign.key" --new-key "$T/sign2.key" --feed main \
    --out "$T/spool/main/key-2.keycert" >/dev/null
kill -HUP "${PID[master]}" # the sync server rescans the spool and pushes the key certificate
wait_until 5 grep -q "event=sync_new_key" "$T/m1.log" || fail "m1 did not learn the new key"
cp "$T/sign2.key" "$T/sign.key.new" && mv "$T/sign.key.new" "$T/sign.key" # the publisher re-reads it
kill -HUP "${PID[master]}"                                                  # heartbeats too
list 198.51.100.150
wait_until 10 all_answer 198.51.100.150 127.0.0.2 || fail "a delta signed by the new key did not apply"
grep -q "error=unknown_key" <(tail -n 50 "$T/m2.log") && fail "m2 refused the new key"
stop m1
mark=$(($(wc -l <"$T/m1.log") + 1))
start_mirror 1
wait_until 10 in_sync 1 || fail "m1 did not resume after the rotation"
tail -n +"$mark" "$T/m1.log" | grep -q "event=sync_state_key" || fail "m1 did not restore the new key"
tail -n +"$mark" "$T/m1.log" | grep -q "sync_state_refused" && fail "m1 refused its own state after rotation"
is_answer 1 198.51.100.150 127.0.0.2 || fail "m1 lost the listing signed by the new key"
pass "signing key rotated without reconfiguring mirrors (new key signed by the old, kept across restarts)"

# ---- a hung link: stale, then frozen (no positive answers), then back ---
stop m1
STALE=1500ms FREEZE=3s start_mirror 1
wait_until 10 in_sync 1 || fail "m1 did not resume with short freshness limits"
kill -STOP "${PID[master]}"
wait_until 5 grep -q "event=sync_freshness feed=main level=stale" "$T/m1.log" ||
    fail "m1 did not turn stale"
wait_until 5 is_answer 1 192.0.2.1 nx || fail "m1 still answers positively while frozen"
grep -q "event=sync_freshness feed=main level=frozen" "$T/m1.log" || fail "m1 did not log frozen"
[ "$(metric 1 'blsync_mirror_stale{feed="main"}')" = 2 ] || fail "m1 metrics do not say frozen"
is_answer 1 192.0.2.1 nx || fail "m1 answers positively while frozen"
kill -CONT "${PID[master]}"
wait_until 5 is_answer 1 192.0.2.1 127.0.0.2 || fail "m1 did not recover when the link returned"
[ "$(metric 1 'blsync_mirror_stale{feed="main"}')" = 0 ] || fail "m1 metrics still say stale"
pass "hung link: stale after 1.5 s, no positive answers after 3 s, recovered"

# ---- no secret in any log: the private keys' material never appears -----
for f in "$T"/pki/mirror-m*.key "$T/sign.key"; do
    secret=$(grep -v -- '-----' "$f" | head -1)
    [ -n "$secret" ] || secret=$(head -c 48 "$f")
    grep -qF -- "$secret" "$T"/m*.log && fail "key material of $f logged"
done
grep -q "PRIVATE KEY" "$T"/m*.log && fail "a private key was logged"
pass "no key material in the mirrors' logs"

echo "all sync protocol checks passed"
