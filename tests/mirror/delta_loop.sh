#!/bin/bash
# SPDX-License-Identifier: MIT
# Queries keep being answered, with no error, while signed deltas are applied in a loop
# through the spool directory; the final state is then exactly the generated one.
. "$(dirname "$0")/lib.sh"
keygen
NDELTA=300
"$MKFEED" --key "$T/keys/signing.key" --dir "$T/feed" --n 50000 --v6 2000 --deltas $NDELTA --changes 200 > /dev/null
mkdir "$T/spool"
cat > "$T/tmpl.conf" <<'CONF'
[server]
listen = 127.0.0.1:@PORT@
threads = 2
[zone bl.example.org]
snapshot = @T@/feed/snapshot.obj
trusted_key = @T@/keys/signing.pub
spool_dir = @T@/spool
CONF
start_mirror "$T/tmpl.conf"

# names to query: listed and unlisted samples plus the test entry
names=(2.0.0.127.bl.example.org)
while read -r kind rev rest; do
    names+=("$rev.bl.example.org")
done < <(revlines < "$T/feed/final.txt")

$PY "$BL_SRC/tests/mirror/load.py" "$PORT" 8 "${names[@]}" > "$T/load.out" &
LPID=$!
PIDS+=("$LPID")
sleep 0.5
# drop the deltas in one by one (write under a dot name, then rename)
for f in "$T"/feed/delta-*.obj; do
    b=$(basename "$f")
    cp "$f" "$T/spool/.$b"
    mv "$T/spool/.$b" "$T/spool/$b"
    sleep 0.005
done
for _ in $(seq 100); do
    grep -q "serial=$((NDELTA + 1)) " "$T/mirror.log" && break
    sleep 0.1
done
grep -q "event=apply .*serial=$((NDELTA + 1)) " "$T/mirror.log" || fail "last delta not applied"
applied=$(grep -c "event=apply " "$T/mirror.log")
[ "$applied" = $NDELTA ] || fail "$applied deltas applied, want $NDELTA"
[ -z "$(ls "$T/spool")" ] || fail "spool not empty: $(ls "$T/spool")"
wait "$LPID" || { cat "$T/load.out"; fail "queries lost or failed during the apply loop"; }
cat "$T/load.out"
ok "$NDELTA deltas applied under load"

# the final state: listed samples answer their A, removed ones NXDOMAIN
while read -r kind rev addr a; do
    name=$rev.bl.example.org
    if [ "$kind" = L ]; then
        [ "$(dq +short "$name" A)" = "127.0.0.$a" ] || fail "$name: want 127.0.0.$a"
    else
        expect_status NXDOMAIN "$name" A
    fi
done < <({ head -60 "$T/feed/final.txt"; grep "^U" "$T/feed/final.txt" | head -40; } | revlines)
ok "final state matches"

# a replayed (old) delta is refused and removed; a tampered one is rejected; serving goes on
cp "$T/feed/delta-000001.obj" "$T/spool/old.obj"
cp "$T/feed/delta-000002.obj" "$T/tampered.obj"
printf '\xff' | dd of="$T/tampered.obj" bs=1 seek=400 conv=notrunc 2>/dev/null
mv "$T/tampered.obj" "$T/spool/zz.obj"
for _ in $(seq 50); do [ -e "$T/spool/zz.obj.rejected" ] && break; sleep 0.1; done
[ -e "$T/spool/zz.obj.rejected" ] || fail "tampered delta not rejected"
[ ! -e "$T/spool/old.obj" ] || fail "outdated delta not removed"
[ "$(dq +short 2.0.0.127.bl.example.org A)" = 127.0.0.2 ] || fail "not serving after a refused delta"
ok "replayed and tampered deltas refused"
echo PASS
