#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest ops_quickstart: runs the README's first command non-interactively
# (deploy/quickstart.sh --ci) against this build tree and checks that every
# dig check it prints passed and that it left no process running; then runs
# it again with a mirror that trusts another signing key, and checks that the
# quickstart fails and names the missing listing (its checks can fail).
. "$(dirname "$0")/../lib.sh"
# The 8 consecutive ports each quickstart run takes, reserved like every test's.
alloc_ports 8 QS_PORT QS_PORT_BAD
OUT=$T/quickstart.out # fail shows its tail
FAIL_TAIL=40
# pids_gone OUTPUT: every daemon pid the quickstart printed has exited.
pids_gone() {
    local p n=0
    for p in $(sed -n 's/.* pid \([0-9][0-9]*\):.*/\1/p' "$1"); do
        n=$((n + 1))
        # A pid reused by another program would not be one of our daemons.
        if [ -e "/proc/$p" ] && grep -q blsync "/proc/$p/cmdline" 2>/dev/null; then
            fail "pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) still runs after the quickstart exited"
        fi
    done
    [ "$n" = 3 ] || fail "expected 3 daemon pids in the output, found $n"
}

# ---- the real thing --------------------------------------------------------
t0=$(date +%s)
rc=0
# Each propagation step waits 30 s at most, the listing that expires lives 10 s
# (its dig checks on a loaded machine take seconds); the timeout only stops a hung run.
BLSYNC_QUICKSTART_BUILD=$B BLSYNC_QUICKSTART_DIR=$T/run BLSYNC_QUICKSTART_TIMEOUT=$(scaled_int 30) \
    BLSYNC_QUICKSTART_EXPIRE=$(scaled_int 10) BLSYNC_QUICKSTART_PORT=$QS_PORT \
    timeout "$(scaled 300)" bash "$S/deploy/quickstart.sh" --ci </dev/null >"$OUT" 2>&1 || rc=$?
[ $rc = 0 ] || fail "deploy/quickstart.sh --ci exited $rc: $(grep -m 1 'FAILED' "$OUT" || true)"
grep -q '^quickstart: all checks passed$' "$OUT" || fail "no 'all checks passed' line"
grep -q 'checks passed, 0 failed' "$OUT" || fail "the summary reports failed checks"
# Every program a printed command names exists from where the quickstart ran
# (this build lies outside the directory the test runs in: BLSYNC_QUICKSTART_BUILD).
while read -r prog; do
    [ -x "$prog" ] || command -v "$prog" >/dev/null || fail "printed command names $prog, which does not exist here"
done < <(sed -n 's/^ *\$ \([^ ]*\) .*/\1/p' "$OUT" | sort -u)
n=$(grep -c '^     -> m[12]: ' "$OUT" || true)
# 4 dig commands before the removal, 3 after it, 2 around the expiry, each on 2 mirrors.
[ "$n" = 18 ] || fail "expected 18 dig answers printed, found $n"
for m in m1 m2; do
    # Both mirrors answered the listing (A and TXT naming the address), then NXDOMAIN.
    grep -q "^     -> $m: NOERROR, A 127\.0\.0\.[0-9]* (expected NOERROR, A" "$OUT" || fail "$m listing not shown"
    grep -q "^     -> $m: NOERROR, TXT \".*192\.0\.2\.99\"" "$OUT" || fail "$m TXT not shown"
    grep -q "^     -> $m: NXDOMAIN (expected NXDOMAIN" "$OUT" || fail "$m NXDOMAIN not shown"
done
# Each printed answer equals what it said it expected.
awk '/^     -> m[12]: / { got = $0; sub(/^     -> m[12]: /, "", got); sub(/ \(expected .*/, "", got);
    want = $0; sub(/.*\(expected /, "", want); sub(/\)$/, "", want);
    if (want ~ /^NOERROR, A / && got !~ /^NOERROR, A 127\.0\.0\.[0-9]+$/) bad++
    else if (want ~ /^NOERROR, TXT/ && got !~ /^NOERROR, TXT /) bad++
    else if (want ~ /^NXDOMAIN/ && got != "NXDOMAIN") bad++ }
    END { exit bad > 0 }' "$OUT" || fail "a printed dig answer differs from what it says it expects"
# The printed commands are real: run one again by hand now that everything is stopped: no answer.
cmd=$(grep -m1 '^   \$ dig @127\.0\.0\.1 ' "$OUT" | sed 's/^   \$ //')
[ -n "$cmd" ] || fail "no dig command printed"
grep -q 'curl -s http://127\.0\.0\.1:[0-9]*/metrics' "$OUT" || fail "no metrics URL printed"
pids_gone "$OUT"
if out=$(eval "$cmd +time=1 +tries=1" 2>&1) && grep -q 'status:' <<<"$out"; then
    fail "a mirror still answers after the quickstart exited: $cmd"
fi
[ -f "$T/run/master.db" ] && [ -f "$T/run/keys/master.key" ] && [ -f "$T/run/pki/mirror-m2.pem" ] ||
    fail "the run directory lacks the store, the signing key or a certificate"
echo "ok: quickstart --ci passed its checks in $(($(date +%s) - t0)) s and left nothing running"

# ---- a broken mirror makes it fail, naming what failed ----------------------
mkdir -p "$T/bad/master" "$T/bad/mirror"
ln -s "$CTL" "$T/bad/master/blsyncctl"
ln -s "$MASTER" "$T/bad/master/blsync-master"
"$CTL" keygen --out "$T/bad" --name other >/dev/null
cat >"$T/bad/mirror/blsync-mirror" <<EOF
#!/bin/bash
# A mirror that trusts another signing key (only): it refuses every object.
[ "\$1" = -c ] && sed -i "s|^trusted_key = .*|trusted_key = $T/bad/other.pub|" "\$2"
exec "$MIRROR" "\$@"
EOF
chmod +x "$T/bad/mirror/blsync-mirror"
rc=0
# The timeout bounds the mirrors' connection too (they connect, then refuse the objects): short,
# as the listing step waits all of it, but scaled.
BLSYNC_QUICKSTART_BUILD=$T/bad BLSYNC_QUICKSTART_DIR=$T/run-bad BLSYNC_QUICKSTART_TIMEOUT=$(scaled_int 5) \
    BLSYNC_QUICKSTART_PORT=$QS_PORT_BAD \
    timeout "$(scaled 300)" bash "$S/deploy/quickstart.sh" --ci </dev/null >"$OUT" 2>&1 || rc=$?
[ $rc = 1 ] || fail "with mirrors that trust another key the quickstart exited $rc, expected 1"
grep -q 'FAILED: the listing of 192.0.2.99 did not reach both mirrors' "$OUT" ||
    fail "the failure does not name the missing listing"
grep -q 'all checks passed' "$OUT" && fail "a failing run claims all checks passed"
pids_gone "$OUT"
echo "ok: with mirrors that refuse the master's key it fails, names the missing listing, leaves nothing running"
