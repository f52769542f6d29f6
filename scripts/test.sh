#!/usr/bin/env bash
# test.sh: the whole test suite, as CI runs it.
#
#   1. scripts/setup.sh (installs what is missing)
#   2. preset ci:   gcc, warnings are errors; every test but label gpu
#   3. preset asan: clang-19 with ASan + UBSan; every test but label gpu,
#                   including the 60-second libFuzzer run (label fuzz)
#   4. label gpu, only where nvidia-smi works
#
# Every stage runs even after one fails, so a single run shows all failures;
# the exit status is non-zero if any stage failed. The last line is the
# summary, "test.sh: N passed, M failed": ctest's tests, and one failure for
# each stage that failed without running tests (setup, a build).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=$(nproc 2>/dev/null || echo 2)
log_dir=$(mktemp -d "${TMPDIR:-/tmp}/lac-test.XXXXXX")
trap 'rm -rf "$log_dir"' EXIT

failures=()
passed_total=0
failed_total=0
timings=()

say() { printf '\n==== test.sh: %s\n' "$*"; }

# run_ctest NAME ARGS...: runs ctest, keeps its log and adds up its counts.
run_ctest() {
  local name=$1
  shift
  local log=$log_dir/$name.log rc
  ctest "$@" -j "$jobs" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # "100% tests passed, 0 tests failed out of 42" (none of that when no test ran)
  local line total failed
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    passed_total=$((passed_total + total - failed))
    failed_total=$((failed_total + failed))
  elif [ "$rc" -ne 0 ]; then
    failed_total=$((failed_total + 1)) # ctest itself failed (no test found, ...)
  fi
  return "$rc"
}

# stage NAME COMMAND...: runs a stage, times it, records a failure.
stage() {
  local name=$1
  shift
  say "$name"
  local t0=$SECONDS
  if "$@"; then
    timings+=("$(printf '%-22s %4ds  ok' "$name" $((SECONDS - t0)))")
  else
    timings+=("$(printf '%-22s %4ds  FAILED' "$name" $((SECONDS - t0)))")
    failures+=("$name")
    # A stage that is no ctest run (setup, a build) counts as one failure.
    case $name in test*) ;; *) failed_total=$((failed_total + 1)) ;; esac
    return 1
  fi
}

build_preset() {
  cmake --preset "$1" && cmake --build --preset "$1" -j "$jobs"
}

if ! stage setup bash scripts/setup.sh; then
  echo "test.sh: the dependencies are not there; stopping"
  echo "test.sh: 0 passed, $failed_total failed"
  exit 1
fi

for preset in ci asan; do
  if stage "build $preset" build_preset "$preset"; then
    stage "test $preset" run_ctest "$preset" --preset "$preset" || true
  fi
done

# GPU tests (none yet): only on a machine whose driver answers. ctest with no
# test of the label prints "No tests were found" and exits 0 by default.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  say "no working nvidia-smi: skipping label gpu"
elif [ ! -f build-ci/CTestTestfile.cmake ]; then
  say "a GPU answers, but build-ci was not built: skipping label gpu"
else
  stage "test gpu" run_ctest gpu --test-dir build-ci -L gpu --output-on-failure || true
fi

say "summary"
printf '  %s\n' "${timings[@]}"
if [ ${#failures[@]} -ne 0 ]; then
  echo "test.sh: FAILED stages: ${failures[*]}"
  echo "test.sh: $passed_total passed, $failed_total failed"
  exit 1
fi
echo "test.sh: all stages passed"
echo "test.sh: $passed_total passed, $failed_total failed"
