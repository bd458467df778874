# SPDX-License-Identifier: MIT
# The chaos harness's plumbing: network namespaces joined by veth pairs to a Linux bridge in a
# "switch" namespace, addresses from 198.18.0.0/15 (the benchmarking range) that exist only
# there, one nftables table per namespace for loss and partitions, a tiny tmpfs under every
# mirror's state directory, and a cleanup that undoes all of it (processes, mounts,
# namespaces) on any exit. chaos.py runs the daemons, the faults and the checker.
set -euo pipefail
B=${BL_BUILD:?BL_BUILD must name the build directory}
S=${BL_SRC:?BL_SRC must name the source directory}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
# Namespace names carry our PID so that two runs never collide.
P=blc$$
NSW=$P-sw
NSM=$P-m
NSC=$P-c
NODES=()
MOUNTS=()
T=

# chaos_can_run: exit 77 (ctest's skip) with the reason when namespaces or nft are unavailable.
chaos_can_run() {
    local why=
    if [ "$(id -u)" != 0 ]; then
        why="not root"
    elif ! command -v nft >/dev/null; then
        why="nft (nftables) is not installed"
    elif ! ip netns add "$P-probe" 2>/dev/null; then
        why="network namespaces are not allowed here"
    elif ! ip netns exec "$P-probe" nft add table inet probe 2>/dev/null; then
        why="nftables is not usable inside a network namespace"
    fi
    ip netns del "$P-probe" 2>/dev/null || true
    if [ -n "$why" ]; then
        echo "SKIP: chaos harness: $why"
        exit 77
    fi
}

chaos_cleanup() {
    local rc=$?
    set +e
    if [ -n "$T" ] && [ -f "$T/pids" ]; then
        while read -r p; do
            kill -CONT "$p" 2>/dev/null
            kill -9 "$p" 2>/dev/null
        done <"$T/pids"
    fi
    for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done
    for n in "${NODES[@]}"; do ip netns del "$n" 2>/dev/null; done
    if [ -n "$T" ]; then
        if [ -n "${KEEP:-}" ] || { [ "$rc" != 0 ] && [ -n "${KEEP_ON_FAIL:-}" ]; }; then
            echo "kept $T"
        else
            rm -rf "$T"
        fi
    fi
    exit "$rc"
}

# node NAME ADDR: a namespace with eth0 (ADDR/15) on the switch's bridge, lo up, an empty
# nftables table "chaos" with input and output chains for the faults.
node() {
    local ns=$P-$1
    ip netns add "$ns"
    NODES+=("$ns")
    ip link add eth0 netns "$ns" type veth peer name "s-$1" netns "$NSW"
    ip -n "$NSW" link set "s-$1" master br0 up
    ip -n "$ns" addr add "$2/15" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip netns exec "$ns" nft -f - <<NFT
table inet chaos {
    chain input { type filter hook input priority 0; policy accept; }
    chain output { type filter hook output priority 0; policy accept; }
}
NFT
}

# chaos_net_up N: switch, master (198.18.0.1), client (198.18.0.2), mirrors m1..mN (198.18.1.i).
chaos_net_up() {
    ip netns add "$NSW"
    NODES+=("$NSW")
    ip -n "$NSW" link add br0 type bridge
    ip -n "$NSW" link set br0 up
    node m 198.18.0.1
    node c 198.18.0.2
    local i
    for i in $(seq "$1"); do node "$i" "198.18.1.$i"; done
}

# chaos_dirs N: the run directory, PKI and an 8 MiB tmpfs as each mirror's state directory
# (the full-disk fault fills it; a mirror keeps up to 512 applied objects there, 4 KiB each on tmpfs).
chaos_dirs() {
    T=$(mktemp -d /tmp/bl_chaos.XXXXXX)
    : >"$T/pids"
    local i args=()
    for i in $(seq "$1"); do
        mkdir -p "$T/m$i/state"
        mount -t tmpfs -o size=8m tmpfs "$T/m$i/state"
        MOUNTS+=("$T/m$i/state")
        args+=(--mirror "m$i")
    done
    "$B/master/blsyncctl" keygen --out "$T" --name sign >/dev/null
    "$B/master/blsyncctl" certs --dir "$T/pki" --master-name master.test "${args[@]}" >/dev/null
    echo "tok$$" >"$T/token"
    : >"$T/revoked"
}

# chaos_run ARGS...: chaos.py in the client namespace (it reaches every other namespace
# through the bridge and enters them with ip netns exec for faults and daemons).
chaos_run() {
    ip netns exec "$NSC" "$PY" "$HERE/chaos.py" --build "$B" --src "$S" --dir "$T" --prefix "$P" "$@"
}
