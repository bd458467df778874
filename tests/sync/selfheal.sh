#!/bin/bash
# SPDX-License-Identifier: MIT
# Self-healing, with a real master and two real mirrors over mutual TLS:
# - a brand-new master and mirror answer the RFC 5782 test entry and the SOA within 2 s;
# - a spool delta flipped, truncated, deleted or replaced by an older one heals by itself in
#   under 10 s, for a mirror that restarts against the running master (the object is found
#   damaged when it is about to be sent) and for a mirror that never restarts while the master
#   restarts (found at start-up); the damaged object is quarantined, never applied;
# - afterwards an operator delisting reaches both mirrors.
. "$(dirname "$0")/../lib.sh"
pki m1 m2
write_master_conf
SP=$T/spool/main
soa() { dq "$1" +short bl.test SOA; }
delta_of() { printf '%s/%020d.delta' "$SP" "$1"; }

# ---- a new feed answers from the first second -------------------------------------------------
t0=$(now_ms)
start_master
answers_test_entry() { [ "$(dq "$1" +short 2.0.0.127.bl.test A)" = 127.0.0.2 ]; }
took=""
for m in m1 m2; do
    t1=$(now_ms)
    start_mirror $m
    wait_until 2 answers_test_entry $m || fail "$m: no 127.0.0.2 for 2.0.0.127.bl.test within 2 s of its start"
    took="$took $m:$(($(now_ms) - t1))ms"
done
for m in m1 m2; do
    [ -n "$(soa "$m")" ] || fail "$m: no SOA"
    [ "$(answer "$m" 192.0.2.200)" = nx ] || fail "$m: an unlisted address is not NXDOMAIN"
done
pass "new master and mirrors answer 2.0.0.127 (127.0.0.2), SOA and NXDOMAIN; from each mirror's start:$took (master started $(($(now_ms) - t0)) ms ago)"

# corrupt KIND FILE: the damage a disk, a person or a bad copy does to one spool object.
corrupt() {
    case $1 in
    flip) printf '\xff' | dd of="$2" bs=1 seek=330 count=1 conv=notrunc status=none ;; # in the payload
    truncate) truncate -s 100 "$2" ;;
    delete) rm -f "$2" ;;
    replay) cp "$(delta_of 2)" "$2.tmp" && mv "$2.tmp" "$2" ;; # an older delta under this name
    esac
}
list 192.0.2.1 && list 192.0.2.2 # deltas 2 and 3: something older to replay
wait_until 5 synced m1 && wait_until 5 synced m2 || fail "mirrors did not follow"

# counted KIND: the master's quarantine counter moved for what KIND does to a file.
counted() {
    local r
    case $1 in flip) r=payload_hash ;; truncate) r=truncated ;; delete) r=not_found ;; replay) r=rollback ;; esac
    grep -qE "^blsync_master_spool_quarantined_total\{feed=\"main\",reason=\"$r\"\} [1-9]" <<<"$(scrape master)"
}
n=10
for kind in flip truncate delete replay; do
    # A mirror that restarts while the master keeps running.
    stop_clean m2
    n=$((n + 1))
    list "192.0.2.$n"
    wait_until 5 synced m1 || fail "m1 did not apply 192.0.2.$n"
    S=$(master_serial)
    corrupt $kind "$(delta_of "$S")"
    t=$(now_ms)
    start_mirror m2
    wait_until 10 synced m2 || fail "$kind: m2 stuck at $(metric m2 'blsync_mirror_serial{feed="main"}') of $S"
    [ "$(answer m2 "192.0.2.$n")" = 127.0.0.2 ] || fail "$kind: m2 lacks 192.0.2.$n"
    heal_r=$(($(now_ms) - t))
    grep -qE "event=(spool_quarantined|sync_object_damaged).*serial=$S " "$T/master.log" ||
        fail "$kind: the master did not report the damaged delta $S"
    logged m2 "event=sync_refused .*serial=$S " && fail "$kind: m2 was sent the damaged delta $S"
    counted $kind || fail "$kind: not counted: $(scrape master | grep quarantined_total)"

    # A mirror that never restarts, while the master restarts over the damaged spool.
    echo m1 >"$T/revoked" && kill -HUP "${PID[master]}"
    wait_until 5 metric_is master 'blsync_master_mirror_connected{feed="main",mirror="m1"}' 0 || fail "m1 not cut off"
    n=$((n + 1))
    list "192.0.2.$n"
    S=$(wait_published "$S")
    wait_until 5 test -e "$(delta_of "$S")" || fail "delta $S not written"
    stop_master
    corrupt $kind "$(delta_of "$S")"
    : >"$T/revoked"
    t=$(now_ms)
    start_master
    wait_until 10 synced m1 || fail "$kind: m1 stuck at $(metric m1 'blsync_mirror_serial{feed="main"}') of $S"
    [ "$(answer m1 "192.0.2.$n")" = 127.0.0.2 ] || fail "$kind: m1 lacks 192.0.2.$n"
    heal_m=$(($(now_ms) - t))
    grep -qE "event=(spool_quarantined|spool_object_missing).*serial=$S " <<<"$(tail -n 30 "$T/master.log")" ||
        fail "$kind: the restarted master did not report the damaged delta $S"
    [ $kind = delete ] || counted $kind || fail "$kind: not counted at start: $(scrape master | grep quarantined_total)"
    wait_until 5 synced m2 || fail "$kind: m2 did not follow"
    pass "$kind: healed by itself: restarted mirror in $heal_r ms, running mirror over a master restart in $heal_m ms (start-up included)"
done
[ "$(ls "$SP/quarantine/" | wc -l)" -ge 6 ] || fail "the quarantine holds $(ls "$SP/quarantine/")"
for m in m1 m2; do
    for r in payload_hash truncated; do
        v=$(metric "$m" "blsync_mirror_deltas_refused_total{feed=\"main\",reason=\"$r\"}")
        [ "${v:-0}" = 0 ] || fail "$m refused $v damaged deltas ($r): the master served them"
    done
done
pass "every damaged delta was quarantined and counted; no mirror was ever sent one"

# ---- a damaged file in a mirror's own state --------------------------------------------------
stop_clean m2
f=$(ls "$T/m2/state/main/"*.snap | sort | tail -n 1)
printf '\x7f' | dd of="$f" bs=1 seek=192 count=1 conv=notrunc status=none # its payload_len
start_mirror m2
grep -q "event=sync_state_refused feed=main file=$(basename "$f") error=bad_signature" "$T/m2.log" ||
    fail "the damaged state file is not reported as a bad signature: $(grep sync_state_refused "$T/m2.log")"
metric_is m2 'blsync_mirror_state_files_refused_total{feed="main",reason="bad_signature"}' 1 || fail "not counted"
wait_until 10 synced m2 || fail "m2 did not resynchronise after refusing its state file"
pass "a bit flipped in a mirror's state file: refused as a bad signature, counted, resynchronised"

# ---- an operator delisting after all of it reaches both mirrors ---------------------------------
t=$(now_ms)
delist 192.0.2.11
for m in m1 m2; do
    wait_until 10 is_answer $m 192.0.2.11 nx || fail "$m still answers the delisted 192.0.2.11"
done
pass "a delisting afterwards reached both mirrors in $(($(now_ms) - t)) ms"
