#!/bin/bash
# Runs every test on a fresh Debian 12 machine: installs what is missing,
# configures, builds (warnings are errors) and runs ctest.
#   tests/run.sh              plain RelWithDebInfo build in build/
#   tests/run.sh --sanitize   ASan+UBSan build in build-asan/ (skips tests labelled nosan);
#                             the shell tests' timeouts are 3 times longer (BL_TIME_SCALE)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
bash tests/install-deps.sh
BUILD=build
ARGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLSYNC_WERROR=ON)
CTEST_ARGS=()
if [ "${1:-}" = "--sanitize" ]; then
    BUILD=build-asan
    ARGS+=(-DBLSYNC_SANITIZE=ON)
    CTEST_ARGS+=(-LE nosan)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export BL_TIME_SCALE=${BL_TIME_SCALE:-3} # sanitized daemons are slower (tests/lib.sh)
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
cmake -S . -B "$BUILD" "${ARGS[@]}"
cmake --build "$BUILD" -j"$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure -j2 --timeout 600 "${CTEST_ARGS[@]}"
