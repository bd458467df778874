#!/bin/bash
# The main job on a fresh Debian 12 machine: install what is missing, build,
# create a signing key, publish a signed delta and snapshot, verify and read them.
# (Grows into master + mirrors on loopback as those daemons land.)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
bash tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
CTL=build/master/blsyncctl
RUN=${BLSYNC_QUICKSTART_DIR:-$SRC/quickstart-run}
rm -rf "$RUN"
mkdir -p "$RUN"
echo "== signing key"
$CTL keygen --out "$RUN/keys" --name master
echo "== delta 1: list two addresses and a /24"
$CTL mkdelta --key "$RUN/keys/master.key" --out "$RUN/1.delta" +192.0.2.10 +198.51.100.0/24=3,1 +2001:db8::25
echo "== delta 2: delist 192.0.2.10, list 203.0.113.7"
$CTL mkdelta --key "$RUN/keys/master.key" --out "$RUN/2.delta" --from "$RUN/1.delta" -192.0.2.10 +203.0.113.7
echo "== snapshot at serial 2"
$CTL mkdelta --key "$RUN/keys/master.key" --out "$RUN/2.snap" --from "$RUN/1.delta" --from "$RUN/2.delta" --snapshot
echo "== verify the chain of deltas (signatures, base serials, digests)"
$CTL verify "$RUN/1.delta" "$RUN/2.delta" --key "$RUN/keys/master.pub" | tail -1
echo "== the state the mirrors would serve"
$CTL dump "$RUN/2.snap" --key "$RUN/keys/master.pub"
echo "== a tampered copy is refused"
cp "$RUN/2.delta" "$RUN/tampered.delta"
printf '\x01' | dd of="$RUN/tampered.delta" bs=1 seek=340 conv=notrunc 2>/dev/null
$CTL verify "$RUN/tampered.delta" --key "$RUN/keys/master.pub" || true
echo "done: files in $RUN"
