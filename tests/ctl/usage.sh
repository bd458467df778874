#!/bin/bash
# SPDX-License-Identifier: MIT
# blsyncctl as an operator's tool: --help/-h on every subcommand prints its usage and exits 0
# without connecting; usage errors exit 2; a refusal is one line that says what to do.
. "$(dirname "$0")/../lib.sh"
# A listener that counts connections: help must not reach it.
alloc_port PORT PORT2
spawn counter "$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
print("listening", sys.argv[1], flush=True)
while True:
    c, _ = s.accept(); print("connection", flush=True); c.close()
' "$PORT"
port_from "$T/counter.log" >/dev/null
cmds=$("$CTL" --help | sed -n 's/^  \([a-z-]*\) .*/\1/p')
[ "$(wc -w <<<"$cmds")" -ge 13 ] || fail "blsyncctl --help lists only: $cmds"
for c in $cmds; do
    for h in --help -h; do
        out=$("$CTL" "$c" "$h" --url "http://127.0.0.1:$PORT" 2>"$T/err") ||
            problem "$c $h exited $?: $(cat "$T/err")"
        grep -q "^usage: blsyncctl $c" <<<"$out" || problem "$c $h printed: $out"
    done
    # Help anywhere among the arguments, after a positional one too.
    "$CTL" "$c" 192.0.2.1 --help --url "http://127.0.0.1:$PORT" >/dev/null 2>&1 ||
        problem "$c 192.0.2.1 --help did not exit 0"
done
! grep -q connection "$T/counter.log" || problem "help connected to the master"
# The bash completion offers every subcommand.
comp=$(bash -c ". '$S/deploy/bash-completion/blsyncctl'; COMP_WORDS=(blsyncctl ''); COMP_CWORD=1; _blsyncctl; echo \"\${COMPREPLY[*]}\"")
for c in $cmds; do
    [[ " $comp " == *" $c "* ]] || problem "the bash completion does not offer $c: $comp"
done
# --json on every subcommand: its usage names it and the completion offers it.
for c in $cmds; do
    "$CTL" "$c" --help | grep -v '^(exit codes' | grep -q -- '--json' ||
        problem "blsyncctl $c --help does not name --json"
    comp=$(bash -c ". '$S/deploy/bash-completion/blsyncctl'; COMP_WORDS=(blsyncctl $c x --j); COMP_CWORD=3; _blsyncctl; echo \"\${COMPREPLY[*]}\"")
    [[ " $comp " == *" --json "* ]] || problem "the bash completion does not offer $c --json: $comp"
done
ok "--help and -h on $(wc -w <<<"$cmds") subcommands: usage, exit 0, no connection"

# Usage errors exit 2 and say what is missing.
expect2() {
    local rc=0
    "$CTL" "$@" --url "http://127.0.0.1:$PORT" >/dev/null 2>"$T/err" || rc=$?
    [ $rc = 2 ] || problem "blsyncctl $* exited $rc, not 2"
}
expect2 report
expect2 list
expect2 list frobnicate
expect2 lookup
expect2 keygen --bogus
expect2 token
expect2 certs
expect2 list remove 192.0.2.1
grep -q -- "--reason is missing" "$T/err" || problem "list remove without --reason said: $(cat "$T/err")"
# Numbers are whole: '3x' is not 3.
expect2 list add 192.0.2.1 --a 3x
grep -q -- "--a '3x' is not a number from 2 to 255" "$T/err" || problem "list add --a 3x said: $(cat "$T/err")"
expect2 list add 192.0.2.1 --reason 1.5
grep -q -- "--reason '1.5' is not a number" "$T/err" || problem "list add --reason 1.5 said: $(cat "$T/err")"
printf '192.0.2.1\n' >"$T/import.txt"
expect2 import-rbldnsd "$T/import.txt" --db "$T/import.db" --a abc
grep -q "^usage: blsyncctl import-rbldnsd" "$T/err" || problem "import-rbldnsd --a abc said: $(cat "$T/err")"
[ ! -e "$T/import.db" ] || problem "import-rbldnsd --a abc created the store"
expect2 import-reports --db "$T/import.db"
[ ! -e "$T/import.db" ] || problem "import-reports without a file created the store"
! grep -q connection "$T/counter.log" || problem "a usage error connected to the master"
ok "usage errors exit 2 without connecting"

# A refusal by the master: one line, the reason, what to do, exit 1.
start_master
rc=0
env -u BLSYNC_TOKEN "$CTL" list add 192.0.2.7 --url "$MASTER_URL" >/dev/null 2>"$T/err" || rc=$?
[ $rc = 1 ] || problem "list add without the token exited $rc"
[ "$(wc -l <"$T/err")" = 1 ] || problem "refusal is not one line: $(cat "$T/err")"
grep -q 'HTTP 40[13]' "$T/err" && grep -q 'token' "$T/err" || problem "refusal said: $(cat "$T/err")"
! grep -q '{' "$T/err" || problem "refusal prints JSON: $(cat "$T/err")"
ok "refusal: $(cat "$T/err")"

# Exit codes a check script uses: lookup 0 listed, 1 not listed; status 0 all
# current; 3 when the master gives no answer (the same with --json).
code() {
    local rc=0
    "$CTL" "$@" >"$T/code.out" 2>"$T/code.err" || rc=$?
    echo $rc
}
auth=(--url "$MASTER_URL" --token-file "$T/token")
[ "$(code list add 192.0.2.7 --comment t "${auth[@]}")" = 0 ] || fail "list add: $(cat "$T/code.err")"
for j in "" --json; do
    [ "$(code lookup 192.0.2.7 $j "${auth[@]}")" = 0 ] || problem "lookup $j of a listed address: not 0"
    [ "$(code lookup 192.0.2.8 $j "${auth[@]}")" = 1 ] || problem "lookup $j of an unlisted address: not 1"
    [ "$(code status $j "${auth[@]}")" = 0 ] || problem "status $j without mirrors: not 0"
    [ "$(code lookup 192.0.2.7 $j --url "http://127.0.0.1:$PORT2")" = 3 ] ||
        problem "lookup $j without a master: not 3"
    [ "$(code status $j --url "http://127.0.0.1:$PORT2")" = 3 ] || problem "status $j without a master: not 3"
done
jq -e '.mirrors | type == "array"' "$T/code.out" >/dev/null 2>&1 ||
    "$CTL" status --json "${auth[@]}" | jq -e '.mirrors | type == "array"' >/dev/null ||
    problem "status --json is not the status object"
ok "lookup and status exit codes"
finish
