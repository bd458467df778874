#!/bin/bash
# SPDX-License-Identifier: MIT
# --json on blsyncctl's offline commands (keygen, token, certs, keycert, verify, dump, mkdelta,
# import-reports, import-rbldnsd): one JSON object on stdout with the fields blsyncctl(1)
# documents, of stable types, agreeing with the files written and with the text output.
. "$(dirname "$0")/../lib.sh"
# js FILTER FILE: jq -e on FILE, which must hold exactly one JSON value.
js() {
    [ "$(jq -s length "$2")" = 1 ] || fail "$2 is not one JSON value: $(cat "$2")"
    jq -e "$1" "$2" >/dev/null || fail "jq '$1' fails on: $(cat "$2")"
}

"$CTL" keygen --out "$T/k" --name a --json >"$T/ka.json" || fail "keygen --json"
js '.private_key == "'"$T"'/k/a.key" and .public_key == "'"$T"'/k/a.pub" and
    .private_key_mode == "0600" and (.key_id | test("^[0-9a-f]{16}$"))' "$T/ka.json"
[ -s "$T/k/a.key" ] && [ "$(stat -c %a "$T/k/a.key")" = 600 ] || fail "keygen --json did not write a.key 0600"
"$CTL" keygen --out "$T/k" --name b >"$T/kb.txt" || fail "keygen b"
b_id=$(sed -n 's/^key id: //p' "$T/kb.txt")
a_id=$(jq -r .key_id "$T/ka.json")
"$CTL" token --out "$T/api.token" --json >"$T/tok.json" || fail "token --json"
js '.token_file == "'"$T"'/api.token" and .mode == "0600"' "$T/tok.json"
grep -qE '^[0-9a-f]{64}$' "$T/api.token" || fail "token file: $(cat "$T/api.token")"
ok "keygen, token: --json names the files written and the key id"

"$CTL" certs --dir "$T/pki" --master-name master.example --mirror m1 --json >"$T/c1.json" || fail "certs --json"
js '.dir == "'"$T"'/pki" and .ca.created == true and .ca.cert == "'"$T"'/pki/ca.pem" and
    [.certificates[] | [.role, .name, .cert, .key]] == [
        ["master", "master.example", "'"$T"'/pki/master.pem", "'"$T"'/pki/master.key"],
        ["mirror", "m1", "'"$T"'/pki/mirror-m1.pem", "'"$T"'/pki/mirror-m1.key"]]' "$T/c1.json"
fp=$(openssl x509 -in "$T/pki/mirror-m1.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
js '.certificates[1].sha256 == "'"$fp"'"' "$T/c1.json"
"$CTL" certs --dir "$T/pki" --mirror m2 --json >"$T/c2.json" || fail "certs --mirror m2 --json"
js '.ca.created == false and .ca.sha256 == "'"$(jq -r .ca.sha256 "$T/c1.json")"'" and
    [.certificates[].name] == ["m2"]' "$T/c2.json"
ok "certs --json: the CA (created or reused), each certificate's role, name, files, sha256"

"$CTL" mkdelta --key "$T/k/a.key" --out "$T/1.delta" --now 1800000000000 +192.0.2.1 +198.51.100.0/24=3,7 --json >"$T/mk.json" ||
    fail "mkdelta --json"
js '.file == "'"$T"'/1.delta" and .type == "delta" and .serial == 1 and .entries == 2 and
    .bytes == '"$(stat -c %s "$T/1.delta")" "$T/mk.json"
"$CTL" mkdelta --key "$T/k/a.key" --out "$T/2.delta" --now 1800000060000 --from "$T/1.delta" -192.0.2.1 +203.0.113.5 >/dev/null ||
    fail "mkdelta 2"
# mkdelta's numbers are whole: a tail or a sign is a usage error, and nothing is written.
for bad in "--serial 5x" "--now 1e12" "--valid 7d" "+192.0.2.9=3x" "+192.0.2.9=3,+7" "+192.0.2.9=3,"; do
    rc=0
    # shellcheck disable=SC2086 # $bad is an option and its value, or one argument
    "$CTL" mkdelta --key "$T/k/a.key" --out "$T/bad.delta" $bad >/dev/null 2>"$T/mk.err" || rc=$?
    [ $rc != 0 ] && [ ! -e "$T/bad.delta" ] || fail "mkdelta $bad: exit $rc, $(cat "$T/mk.err")"
done
"$CTL" verify "$T/1.delta" "$T/2.delta" --key "$T/k/a.pub" --json >"$T/v.json" || fail "verify --json"
js '.ok == true and .failed == null and (.objects | length) == 2 and
    [.objects[] | [.file, .type, .serial, .base_serial, .key_id, .digest_checked]] == [
        ["'"$T"'/1.delta", "delta", 1, 0, "'"$a_id"'", true],
        ["'"$T"'/2.delta", "delta", 2, 1, "'"$a_id"'", true]] and
    .objects[1].created_at_ms == 1800000060000 and .objects[1].created_at == "2027-01-15T08:01:00.000Z" and
    .objects[0].added == 2 and .objects[1].removed == 1 and (.objects[1].digest | test("^[0-9a-f]{64}$"))' "$T/v.json"
# A chain that breaks: exit 1, ok false, the file that failed named.
rc=0
"$CTL" verify "$T/2.delta" "$T/1.delta" --key "$T/k/a.pub" --json >"$T/v.json" 2>/dev/null || rc=$?
[ $rc = 1 ] || fail "verify of a broken chain exited $rc"
js '.ok == false and .failed == "'"$T"'/1.delta"' "$T/v.json"
ok "verify --json: headers, digest_checked, ok/failed"

"$CTL" keycert --old-key "$T/k/a.key" --new-key "$T/k/b.pub" --out "$T/b.keycert" --valid 3600 --json >"$T/kc.json" ||
    fail "keycert --json"
js '.file == "'"$T"'/b.keycert" and .new_key_id == "'"$b_id"'" and .signed_by_key_id == "'"$a_id"'" and
    .valid_s == 3600 and .feed == "main" and (.expires_at_ms | type) == "number"' "$T/kc.json"
"$CTL" verify "$T/b.keycert" --key "$T/k/a.pub" --json >"$T/v.json" || fail "verify keycert --json"
# --valid takes a duration with its unit, and refuses a number with a tail.
"$CTL" keycert --old-key "$T/k/a.key" --new-key "$T/k/b.pub" --out "$T/b2.keycert" --valid 2d --json \
    >"$T/kc2.json" || fail "keycert --valid 2d"
js '.valid_s == 172800' "$T/kc2.json"
rc=0
"$CTL" keycert --old-key "$T/k/a.key" --new-key "$T/k/b.pub" --out "$T/b3.keycert" --valid 30x \
    >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] && [ ! -e "$T/b3.keycert" ] || fail "keycert --valid 30x: exit $rc"
js '.ok == true and .objects[0].type == "keycert" and .objects[0].new_key_id == "'"$b_id"'" and
    .objects[0].key_id == "'"$a_id"'" and .objects[0].expires_at_ms == '"$(jq .expires_at_ms "$T/kc.json")" "$T/v.json"
"$CTL" verify "$T/b.keycert" --key "$T/k/a.pub" >"$T/v.txt" || fail "verify keycert"
grep -qx "new_key_id: $b_id" "$T/v.txt" || fail "verify keycert text: $(cat "$T/v.txt")"
ok "keycert --json and verify of a key certificate: the new key's id ($b_id), text and JSON"

"$CTL" dump "$T/2.delta" --key "$T/k/a.pub" --json >"$T/d.json" || fail "dump --json"
js '.type == "delta" and .serial == 2 and .signature_verified == true and
    .changes == [{"op": "remove", "prefix": "192.0.2.1", "decided_at_ms": 1800000060000},
                 {"op": "add", "prefix": "203.0.113.5", "a": 2, "reason": 0, "listed_at_unix": 1800000060,
                  "expires_at_unix": 1800086460, "decided_at_ms": 1800000060000}]' "$T/d.json"
"$CTL" dump "$T/1.delta" --json >"$T/d.json" 2>/dev/null || fail "dump --json without --key"
js '.signature_verified == false and [.changes[].prefix] == ["192.0.2.1", "198.51.100.0/24"]' "$T/d.json"
"$CTL" dump "$T/1.delta" "$T/2.delta" --key "$T/k/a.pub" --json >"$T/d.json" || fail "dump chain --json"
js '.feed == "main" and .serial == 2 and .digest == "'"$(jq -r '.objects[1].digest' <("$CTL" verify "$T/1.delta" "$T/2.delta" --key "$T/k/a.pub" --json))"'" and
    .entries == [{"prefix": "198.51.100.0/24", "a": 3, "reason": 7, "listed_at_unix": 1800000000, "expires_at_unix": 1800086400},
                 {"prefix": "203.0.113.5", "a": 2, "reason": 0, "listed_at_unix": 1800000060, "expires_at_unix": 1800086460}]' "$T/d.json"
# A large snapshot is written as it goes (more than one 64 KiB piece) and stays one JSON value.
big=()
for i in $(seq 0 2999); do big+=("+10.$((i / 250)).$((i % 250)).1"); done
"$CTL" mkdelta --key "$T/k/a.key" --out "$T/big.snap" --snapshot "${big[@]}" >/dev/null || fail "mkdelta big"
"$CTL" dump "$T/big.snap" --key "$T/k/a.pub" --json >"$T/d.json" || fail "dump big --json"
[ "$(stat -c %s "$T/d.json")" -gt 131072 ] || fail "the big dump is small: $(stat -c %s "$T/d.json") bytes"
js '(.entries | length) == 3000 and .type == "snapshot" and (.entries | map(.prefix) | unique | length) == 3000' "$T/d.json"
ok "dump --json: a delta's changes, an unverified object, a chain's state, a 3000-entry snapshot"

printf '192.0.2.0/24\n198.51.100.7\nnot-an-address\n' >"$T/r.txt"
rc=0
"$CTL" import-rbldnsd "$T/r.txt" --db "$T/m.db" --json >"$T/i.json" 2>/dev/null || rc=$?
[ $rc = 1 ] || fail "import-rbldnsd with a bad line exited $rc, not 1"
js '.file == "'"$T"'/r.txt" and .type == "ip4set" and .imported == 2 and .new == 2 and .removed == 0 and
    .refused == 0 and .exclusions_skipped == 0 and .bad_lines_skipped == 1' "$T/i.json"
printf '192.0.2.0/24\n' >"$T/r.txt"
"$CTL" import-rbldnsd "$T/r.txt" --db "$T/m.db" --replace --json >"$T/i.json" 2>/dev/null || fail "import-rbldnsd --replace"
js '.imported == 1 and .new == 0 and .removed == 1 and .bad_lines_skipped == 0' "$T/i.json"
printf '{"ip":"203.0.113.9","source":"spamtrap"}\n{"ip":"203.0.113.10","source":"user"}\n' >"$T/rep.jsonl"
"$CTL" import-reports "$T/rep.jsonl" --db "$T/m.db" --json >"$T/i.json" 2>/dev/null || fail "import-reports --json"
js '.file == "'"$T"'/rep.jsonl" and .imported == 2 and (.listed | type) == "number" and .refused == 0' "$T/i.json"
ok "import-rbldnsd, import-reports --json: the counts of what was stored"

# Text stays text: no command prints JSON without --json.
"$CTL" keygen --out "$T/k" --name c >"$T/t.txt" && "$CTL" verify "$T/1.delta" --key "$T/k/a.pub" >>"$T/t.txt" &&
    "$CTL" dump "$T/1.delta" --key "$T/k/a.pub" >>"$T/t.txt" || fail "text commands"
! grep -q '^[{[]' "$T/t.txt" || fail "JSON without --json: $(cat "$T/t.txt")"
ok "text by default"
finish
