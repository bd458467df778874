#!/bin/bash
# SPDX-License-Identifier: MIT
# The chaos soak: random faults (single and combined) for N minutes against a master and 5
# mirrors in their own network namespaces, W = 60 s, then the self-check; prints per fault
# class the injections, the invariant violations and the time to heal (p50/p99).
#   tests/chaos/soak.sh --minutes N [--window S] [--seed N]
# BL_BUILD defaults to build/ in the source tree.
: "${BL_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${BL_BUILD:=$BL_SRC/build}"
export BL_SRC BL_BUILD
# A soak that finds a violation keeps its directory (every daemon's log, the scrapes) to read.
: "${KEEP_ON_FAIL:=1}"
export KEEP_ON_FAIL
MIN=
ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
    --minutes) MIN=$2; shift 2 ;;
    *) ARGS+=("$1"); shift ;;
    esac
done
[ -n "$MIN" ] || { echo "usage: $0 --minutes N [--window S] [--seed N]" >&2; exit 2; }
. "$(dirname "$0")/lib.sh"
chaos_can_run
trap chaos_cleanup EXIT
chaos_net_up 5
chaos_dirs 5
chaos_run --mirrors 5 --window 60 --minutes "$MIN" "${ARGS[@]}"
