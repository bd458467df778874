#!/bin/bash
# SPDX-License-Identifier: MIT
# A/B of the DNS answer path: two mirror_answer_bench binaries (say, built
# from two commits with -DCMAKE_BUILD_TYPE=Release) run alternately on the
# same data and query lists, so that a shared machine's load falls on both.
# Prints ns per answer (min / median / max of each run's median, one by one
# and in batches of 32), then the instructions per answer of the answer path
# alone under callgrind (mirror_dns_answer_ex and mirror_dns_answer_batch
# with everything they call; repeatable whatever the load).
#   answer_ab.sh OLD_BENCH NEW_BENCH IP4SET-FILE QUERIES [RUNS]
# QUERIES is a dnsperf list ("4.3.2.1.bl.example.org A"); the zone is
# bl.example.org. A second list is derived from it: every fifth query asks
# for TXT and every fifth for AAAA (NODATA or NXDOMAIN with the SOA), so the
# TXT and authority writers are timed too.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 OLD_BENCH NEW_BENCH IP4SET-FILE QUERIES [RUNS]"; exit 2; }
OLD=$1 NEW=$2 SET=$3 Q=$4 RUNS=${5:-5}
T=$(mktemp -d /tmp/answer-ab.XXXXXX)
trap 'rm -rf "$T"' EXIT
awk '{t = NR % 5 == 1 ? "TXT" : NR % 5 == 2 ? "AAAA" : $2; print $1, t}' "$Q" > "$T/mixed.txt"
head -n 20000 "$Q" > "$T/a20k.txt"
head -n 20000 "$T/mixed.txt" > "$T/mixed20k.txt"
stats() { sort -g | awk '{v[NR] = $1} END {printf "min %.1f median %.1f max %.1f", v[1], v[int((NR + 1) / 2)], v[NR]}'; }
for list in "$Q" "$T/mixed.txt"; do
    : > "$T/old" && : > "$T/new"
    for _ in $(seq "$RUNS"); do
        for v in old new; do
            b=$OLD
            [ $v = new ] && b=$NEW
            "$b" bl.example.org "$SET" "$list" 32 7 2> /dev/null | tail -1 |
                sed -n 's/.*one by one \([0-9.]*\) ns, batch \([0-9.]*\) ns.*/\1 \2/p' >> "$T/$v"
        done
    done
    name=$(basename "$list")
    [ "$list" = "$Q" ] || name="mixed (1/5 TXT, 1/5 AAAA)"
    for v in old new; do
        echo "$name $v ($RUNS runs, each the median of 7 rounds): one by one $(cut -d' ' -f1 "$T/$v" | stats) ns; batch $(cut -d' ' -f2 "$T/$v" | stats) ns"
    done
done
if command -v valgrind > /dev/null; then
    for list in a20k mixed20k; do
        for v in old new; do
            b=$OLD
            [ $v = new ] && b=$NEW
            ir=$(valgrind --tool=callgrind --callgrind-out-file="$T/cg" \
                --toggle-collect=mirror_dns_answer_ex --toggle-collect=mirror_dns_answer_batch \
                "$b" bl.example.org "$SET" "$T/$list.txt" 32 1 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
            # one round answers every query twice: one by one and in batches
            echo "callgrind $list $v: $(awk -v i="$ir" 'BEGIN {printf "%.1f", i / 40000}') instructions per answer"
        done
    done
fi
