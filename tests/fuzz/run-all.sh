#!/usr/bin/env bash
# run-all.sh: build every libFuzzer target with clang (ASan + UBSan, in
# build-fuzz/) and run each for a bounded time.
#
#   tests/fuzz/run-all.sh [SECONDS]     each target for SECONDS (default 60)
#
# Fails when any target reports a crash, a leak, undefined behaviour or a
# timeout; the input that found it is kept in tests/fuzz/crashes-TARGET/
# (not committed: copy it into tests/fuzz/corpus/TARGET/ as a regression
# case once fixed). The committed corpus is only read: new inputs go to
# build-fuzz/corpus/TARGET/, which later runs start from. FUZZ_JOBS targets
# run at once (default: 2, or 1 on a single CPU); FUZZ_TARGETS="tcp addr"
# runs some only.
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-60}
case "$secs" in
'' | *[!0-9]*)
    echo "usage: tests/fuzz/run-all.sh [SECONDS]" >&2
    exit 2
    ;;
esac
build=build-fuzz
read -r -a targets <<<"${FUZZ_TARGETS:-packet tcp arf csv rbldnsd config addr flat tsig xfr}"
cpus=$(nproc 2>/dev/null || echo 1)
jobs=${FUZZ_JOBS:-$((cpus >= 2 ? 2 : 1))}

if ! command -v clang >/dev/null 2>&1; then
    echo "run-all.sh: clang is needed for libFuzzer (apt-get install clang)" >&2
    exit 1
fi
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DDNSBL_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$cpus" --target "${targets[@]/#/fuzz_}"

# Any report stops the target at once and fails the run.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
logs=$build/fuzz-logs
mkdir -p "$logs"

run_target() {
    local t=$1 crashes=tests/fuzz/crashes-$1
    mkdir -p "$build/corpus/$t" "$crashes"
    "$build/tests/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$crashes/" \
        "$build/corpus/$t" "tests/fuzz/corpus/$t" >"$logs/$t.log" 2>&1
}

declare -A pid_of
running=0
for t in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    echo "fuzz_$t: ${secs}s"
    run_target "$t" &
    pid_of[$t]=$!
    running=$((running + 1))
done

failed=()
printf '\n%-10s %12s  %s\n' TARGET EXECS RESULT
for t in "${targets[@]}"; do
    rc=0
    wait "${pid_of[$t]}" || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    if [ "$rc" -eq 0 ]; then
        printf '%-10s %12s  ok\n' "$t" "${execs:-?}"
        rmdir "tests/fuzz/crashes-$t" 2>/dev/null || true
    else
        printf '%-10s %12s  FAILED (exit %d, log %s)\n' "$t" "${execs:-?}" "$rc" "$logs/$t.log"
        failed+=("$t")
    fi
done
for t in "${failed[@]}"; do
    echo
    echo "=== fuzz_$t (last 60 lines of $logs/$t.log) ==="
    tail -n 60 "$logs/$t.log"
    echo "=== inputs kept in tests/fuzz/crashes-$t/:"
    ls -l "tests/fuzz/crashes-$t/" || true
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "run-all.sh: failed: ${failed[*]}" >&2
    exit 1
fi
echo "run-all.sh: ${#targets[@]} targets, ${secs}s each, no crash, leak or UB report"
