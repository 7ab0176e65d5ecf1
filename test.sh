#!/usr/bin/env bash
# test.sh: build dnsbld and run every test (unit, CLI, end-to-end) with ctest.
#   ./test.sh                 build in build/ (or $BUILD_DIR) and run the suite
#   ./test.sh --sanitize      the same with ASan+UBSan, in build-asan/
#   ./test.sh [--sanitize] -R e2e    further arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")"

build=${BUILD_DIR:-build}
cmake_args=()
if [ "${1:-}" = "--sanitize" ]; then
    shift
    build=build-asan
    cmake_args+=(-DDNSBL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
    # Leaks and undefined behaviour fail the test that finds them.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" "${cmake_args[@]}"
cmake --build "$build" -j"$jobs"
cd "$build"
ctest --output-on-failure -j2 "$@"
