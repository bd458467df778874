#!/bin/bash
# SPDX-License-Identifier: MIT
# Benchmark: queries lost across two restarts of blsync-mirror under dnsperf at RATE (default
# 50,000/s) for SECS (default 10) seconds, with the sockets handed over (sockholder.py, as
# blsync-mirror.socket does) and with plain restarts. It runs tests/mirror/restart_noloss.sh at
# that rate and prints its figures with the machine's load before and after.
# Usage: tests/bench/mirror/restart.sh [BUILD_DIR]  (RATE=50000 SECS=10 PERF_THREADS=2)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
export BL_BUILD=${1:-${BL_BUILD:-$SRC/build}} BL_SRC=$SRC
export RATE=${RATE:-50000} SECS=${SECS:-10} PERF_THREADS=${PERF_THREADS:-2}
echo "cores: $(nproc); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(bash "$SRC/tests/mirror/restart_noloss.sh" 2>&1)
rc=$?
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E '^(ok|FAIL|figures|handover)' <<<"$out"
[ $rc = 0 ] || { echo "$out" | tail -n 40; echo "restart_noloss.sh exited $rc"; }
exit $rc
