#!/bin/bash
# Proto benchmarks: build in Release and run bench_proto.
# usage: tests/bench/proto/run.sh [ENTRIES_IN_SNAPSHOT]   (default 10,000,000)
set -eu
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
B=${BL_BENCH_BUILD:-$SRC/build-bench}
cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$B" -j"$(nproc)" --target bench_proto >/dev/null
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
"$B/tests/bench/proto/bench_proto" "${1:-10000000}"
