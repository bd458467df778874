#!/bin/bash
# SPDX-License-Identifier: MIT
# blsyncctl keygen/mkdelta/verify/dump as a user runs them: outputs and error messages.
. "$(dirname "$0")/../lib.sh"
flip_byte() { # flip_byte FILE OFFSET: inverts one byte (writing a fixed value may change nothing)
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
expect_err() { # expect_err PATTERN CMD...: non-zero exit and stderr matching PATTERN
    local pat="$1"; shift
    if "$@" >"$T/out" 2>"$T/err"; then fail "$* succeeded"; fi
    grep -q -- "$pat" "$T/err" || fail "$*: stderr lacks '$pat': $(cat "$T/err")"
}

"$CTL" keygen --out "$T/k" --name a >/dev/null || fail keygen
"$CTL" keygen --out "$T/k" --name b >"$T/kb.out" || fail keygen b
[ "$(stat -c %a "$T/k/a.key")" = 600 ] || fail "private key mode"
"$CTL" mkdelta --key "$T/k/a.key" --out "$T/1.delta" +192.0.2.1 +198.51.100.0/24=3,1 +2001:db8::/32 >/dev/null || fail mkdelta
"$CTL" mkdelta --key "$T/k/a.key" --out "$T/2.delta" --from "$T/1.delta" -192.0.2.1 +203.0.113.5 >/dev/null || fail mkdelta 2
"$CTL" mkdelta --key "$T/k/a.key" --out "$T/2.snap" --from "$T/1.delta" --from "$T/2.delta" --snapshot >/dev/null || fail snapshot

"$CTL" verify "$T/1.delta" --key "$T/k/a.pub" >"$T/out" || fail "verify 1"
grep -q '^type: delta$' "$T/out" || fail "header type"
grep -q '^serial: 1$' "$T/out" || fail "header serial"
grep -q '^added: 3$' "$T/out" || fail "header added"
grep -q '^serial: 2$' <<<"$("$CTL" verify "$T/2.snap" --key "$T/k/a.pub")" || fail "snapshot serial"
grep -q 'ok: chain verified' <<<"$("$CTL" verify "$T/1.delta" "$T/2.delta" --key "$T/k/a.pub")" || fail chain

# The chain and the snapshot describe the same state.
"$CTL" dump "$T/1.delta" "$T/2.delta" --key "$T/k/a.pub" | sed 1d >"$T/chain.txt"
"$CTL" dump "$T/2.snap" --key "$T/k/a.pub" >"$T/snap.txt"
diff "$T/chain.txt" "$T/snap.txt" || fail "chain and snapshot differ"
grep -q '^198.51.100.0/24 a=127.0.0.3 reason=1' "$T/snap.txt" || fail "dump entry"
grep -q '^192.0.2.1 ' "$T/snap.txt" && fail "removed entry still dumped"
grep -q '^-192.0.2.1 decided_ms=' <<<"$("$CTL" dump "$T/2.delta" 2>/dev/null)" || fail "dump removal"

# Key rotation: a key certificate for b signed by a verifies with a's key only.
"$CTL" keycert --old-key "$T/k/a.key" --new-key "$T/k/b.pub" --out "$T/b.keycert" >/dev/null || fail keycert
"$CTL" verify "$T/b.keycert" --key "$T/k/a.pub" >"$T/out" || fail "verify keycert"
grep -q '^type: keycert$' "$T/out" || fail "keycert type"
# It names the key it certifies: b's id, as keygen printed it.
b_id=$(sed -n 's/^key id: //p' "$T/kb.out")
[ -n "$b_id" ] && grep -qx "new_key_id: $b_id" "$T/out" || fail "verify keycert does not name b ($b_id): $(cat "$T/out")"
expect_err "unknown key" "$CTL" verify "$T/b.keycert" --key "$T/k/b.pub"
expect_err "not an Ed25519 private key" "$CTL" keycert --old-key "$T/k/a.pub" --new-key "$T/k/b.pub" --out "$T/x"

# Refusals, each with its own message.
expect_err "unknown key" "$CTL" verify "$T/1.delta" --key "$T/k/b.pub"
cp "$T/1.delta" "$T/bad"; flip_byte "$T/bad" 300
expect_err "bad signature" "$CTL" verify "$T/bad" --key "$T/k/a.pub"
cp "$T/1.delta" "$T/bad"; flip_byte "$T/bad" 330
expect_err "payload does not match" "$CTL" verify "$T/bad" --key "$T/k/a.pub"
head -c 100 "$T/1.delta" >"$T/trunc"
expect_err "truncated at byte 100" "$CTL" verify "$T/trunc" --key "$T/k/a.pub"
head -c 330 "$T/1.delta" >"$T/trunc"
expect_err "truncated at byte 330" "$CTL" verify "$T/trunc" --key "$T/k/a.pub"
echo "hello" >"$T/text"
expect_err "bad magic" "$CTL" verify "$T/text" --key "$T/k/a.pub"
expect_err "No such file" "$CTL" verify "$T/missing" --key "$T/k/a.pub"
expect_err "not an Ed25519 key" "$CTL" verify "$T/1.delta" --key "$T/text"
"$CTL" mkdelta --key "$T/k/a.key" --out "$T/1.snap" --from "$T/1.delta" --snapshot >/dev/null || fail "snapshot 1"
"$CTL" mkdelta --key "$T/k/a.key" --out "$T/3.delta" --from "$T/1.delta" --from "$T/2.delta" +192.0.2.99 >/dev/null || fail "delta 3"
grep -q 'ok: chain' <<<"$("$CTL" verify "$T/1.snap" "$T/2.delta" "$T/3.delta" --key "$T/k/a.pub")" ||
    fail "snapshot + deltas"
expect_err "base serial" "$CTL" verify "$T/1.snap" "$T/3.delta" --key "$T/k/a.pub"
"$CTL" mkdelta --key "$T/k/a.key" --out "$T/fork.delta" --from "$T/1.delta" +192.0.2.77 >/dev/null || fail "fork delta"
expect_err "fork" "$CTL" verify "$T/1.delta" "$T/2.delta" "$T/fork.delta" --key "$T/k/a.pub"
expect_err "bad prefix\|malformed" "$CTL" mkdelta --key "$T/k/a.key" --out "$T/x" +example.com
expect_err "bits set beyond" "$CTL" mkdelta --key "$T/k/a.key" --out "$T/x" +10.1.0.0/8
# A delta replayed on the state it produced.
expect_err "rollback" "$CTL" verify "$T/1.delta" "$T/2.delta" "$T/2.delta" --key "$T/k/a.pub"
# 300 files (more than verify and dump once took): the same snapshot again and again, each
# one replacing the state the one before it loaded.
files=()
for i in $(seq 1 300); do files+=("$T/2.snap"); done
"$CTL" verify "${files[@]}" --key "$T/k/a.pub" >"$T/out" || fail "verify of 300 files: $(tail -3 "$T/out")"
[ "$(grep -c '^== ' "$T/out")" = 300 ] && grep -q 'ok: chain verified' "$T/out" ||
    fail "verify of 300 files: $(tail -3 "$T/out")"
"$CTL" dump "${files[@]}" --key "$T/k/a.pub" | grep -q '^# feed=main serial=2 entries=3 ' ||
    fail "dump of 300 files"
# Never crash on random garbage (refusing it is fine: a status below 128).
for i in $(seq 1 50); do
    head -c $((RANDOM % 2000)) /dev/urandom >"$T/rnd"
    rc=0
    "$CTL" verify "$T/rnd" --key "$T/k/a.pub" >/dev/null 2>&1 || rc=$?
    [ $rc -lt 128 ] || fail "crash on random input"
    rc=0
    "$CTL" dump "$T/rnd" >/dev/null 2>&1 || rc=$?
    [ $rc -lt 128 ] || fail "dump crash on random input"
done
echo "proto_ctl: all checks passed"
