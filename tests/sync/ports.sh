# SPDX-License-Identifier: MIT
# Sourced by the sync tests: picks a block of free loopback ports for servers.
#
# pick_ports N: sets BASE so that BASE..BASE+N-1 are free now. The block lies
# below the kernel's ephemeral range (ip_local_port_range), so that no client
# socket of this or a parallel test (curl, dig, a TLS client) can take one of
# them between the pick and the bind; that overlap was the CI flake "address
# already in use". The range 25000.. does not meet the mirror tests' 20000-24999.
pick_ports() {
    local n=$1 lo=25000 hi k span used
    hi=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$hi" -gt $((lo + 10 * n)) ] || { lo=10000; hi=20000; }
    span=$(((hi - lo) / n))
    k=$((($$ * 31 + RANDOM) % span))
    used=$(ss -Htanu 2>/dev/null | awk '{print $5}' | sed 's/.*://' | sort -u)
    for _ in $(seq "$span"); do
        BASE=$((lo + k * n))
        if ! echo "$used" | awk -v a="$BASE" -v b=$((BASE + n - 1)) '$1 >= a && $1 <= b {f=1} END {exit !f}'; then
            return 0
        fi
        k=$(((k + 1) % span))
    done
    echo "no free block of $n ports" >&2
    return 1
}
