#!/bin/bash
# SPDX-License-Identifier: MIT
# Queries keep being answered, with no error, while signed deltas are applied in a loop
# through the spool directory; the final state is then exactly the generated one.
. "$(dirname "$0")/../lib.sh"
keygen
NDELTA=300
"$MKFEED" --key "$T/sign.key" --dir "$T/feed" --n 50000 --v6 2000 --deltas $NDELTA --changes 200 >/dev/null
mkdir "$T/spool"
write_mirror_conf m1 --files "server|threads = 2"
cat >>"$T/m1/mirror.conf" <<CONF
[zone bl.example.org]
snapshot = $T/feed/snapshot.obj
trusted_key = $T/sign.pub
spool_dir = $T/spool
CONF
start_mirror m1

# names to query: listed and unlisted samples plus the test entry
names=(2.0.0.127.bl.example.org)
while read -r kind rev rest; do
    names+=("$rev.bl.example.org")
done < <(revlines <"$T/feed/final.txt")

queries() { scrape m1 | awk '/^blsync_mirror_dns_queries_total\{/ {s += $2} END {print s + 0}'; }
queried() { [ "$(queries)" -gt 0 ]; }
$PY "$S/tests/mirror/load.py" "${DNS_PORT[m1]}" 8 "${names[@]}" >"$T/load.out" &
track load $!
wait_until 5 queried || fail "the load did not reach the mirror"
# drop the deltas in one by one (write under a dot name, then rename), a few
# milliseconds apart, so that applies interleave with the queries
$PY - "$T/spool" "$T"/feed/delta-*.obj <<'PY'
import os, shutil, sys, time
for f in sys.argv[2:]:
    dot = os.path.join(sys.argv[1], "." + os.path.basename(f))
    shutil.copyfile(f, dot)
    os.rename(dot, os.path.join(sys.argv[1], os.path.basename(f)))
    time.sleep(0.005)
PY
# Applying 300 deltas takes from seconds to a minute (sanitizers, a loaded machine): the
# wait ends when the last one is applied and fails when 10 s pass with none applied.
n_applied() { grep -c "event=apply " "$T/m1.log"; }
last_applied() { logged m1 "event=apply .*serial=$((NDELTA + 1)) "; }
_advanced() { last_applied || [ "$(n_applied)" -gt "$1" ]; } # the last may land between checks
while ! last_applied; do
    seen=$(n_applied)
    wait_until 10 _advanced "$seen" || fail "no delta applied for 10 s ($seen of $NDELTA applied)"
done
applied=$(grep -c "event=apply " "$T/m1.log")
[ "$applied" = $NDELTA ] || fail "$applied deltas applied, want $NDELTA"
[ -z "$(ls "$T/spool")" ] || fail "spool not empty: $(ls "$T/spool")"
await load 20
[ "$RC" = 0 ] || { cat "$T/load.out"; fail "queries lost or failed during the apply loop"; }
cat "$T/load.out"
ok "$NDELTA deltas applied under load"

# the final state: listed samples answer their A, removed ones NXDOMAIN
{ head -60 "$T/feed/final.txt"; grep "^U" "$T/feed/final.txt" | head -40; } | revlines >"$T/final.rev"
awk '{ print "m1", $2 ".bl.example.org", "A" }' "$T/final.rev" | dig_batch >"$T/final.ans"
[ "$(wc -l <"$T/final.ans")" = "$(wc -l <"$T/final.rev")" ] || fail "answers missing: $(cat "$T/final.ans")"
while read -r kind rev addr a && read -r _ name _ st rdata <&3; do
    if [ "$kind" = L ]; then
        [ "$st $rdata" = "NOERROR 127.0.0.$a" ] || fail "$name: $st $rdata, want 127.0.0.$a"
    else
        [ "$st" = NXDOMAIN ] || fail "dig $name A: status '$st', want 'NXDOMAIN'"
    fi
done <"$T/final.rev" 3<"$T/final.ans"
ok "final state matches"

# a replayed (old) delta is refused and removed; a tampered one is rejected; serving goes on
cp "$T/feed/delta-000001.obj" "$T/spool/old.obj"
cp "$T/feed/delta-000002.obj" "$T/tampered.obj"
printf '\xff' | dd of="$T/tampered.obj" bs=1 seek=400 conv=notrunc 2>/dev/null
mv "$T/tampered.obj" "$T/spool/zz.obj"
wait_until 5 test -e "$T/spool/zz.obj.rejected" || fail "tampered delta not rejected"
[ ! -e "$T/spool/old.obj" ] || fail "outdated delta not removed"
[ "$(dq m1 +short 2.0.0.127.bl.example.org A)" = 127.0.0.2 ] || fail "not serving after a refused delta"
ok "replayed and tampered deltas refused"
echo PASS
