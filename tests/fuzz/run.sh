#!/usr/bin/env bash
# run.sh FUZZER FUZZ_DIR REPO_ROOT SECONDS: a time-boxed libFuzzer run.
#
# The corpus starts from FUZZ_DIR/seeds plus the current dsl_examples (so a
# new example is a seed without a copy) in a temporary folder; the seeds in
# the repository are never written. Exits with the fuzzer's status: 0 when it
# found nothing in SECONDS. On a crash, libFuzzer's reproducer (crash-*,
# leak-*, timeout-*, oom-*) is kept in fuzz-artifacts/ beside the fuzzer (or
# in $LAC_FUZZ_ARTIFACTS), and the command that replays it is printed.
set -uo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 FUZZER FUZZ_DIR REPO_ROOT SECONDS" >&2
  exit 2
fi
fuzzer=$1
fuzz_dir=$2
root=$3
seconds=$4

work=$(mktemp -d "${TMPDIR:-/tmp}/lac-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
corpus=$work/corpus
mkdir -p "$corpus"
cp "$fuzz_dir"/seeds/* "$corpus"/ 2>/dev/null || true
cp "$root"/dsl_examples/*.la "$corpus"/ 2>/dev/null || true
nseeds=$(find "$corpus" -type f | wc -l)

artifacts=${LAC_FUZZ_ARTIFACTS:-$(dirname "$fuzzer")/fuzz-artifacts}
mkdir -p "$artifacts"

echo "fuzz: $fuzzer for ${seconds}s, $nseeds seeds, dictionary $fuzz_dir/dict.txt"
# Leaks are failures too (LeakSanitizer runs at the end of each input that
# malloc'ed more than it freed, and at exit).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$fuzzer" -max_total_time="$seconds" -dict="$fuzz_dir/dict.txt" -timeout=10 \
  -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$corpus" >"$work/log" 2>&1
rc=$?

# The last status lines and the final statistics; everything on failure.
if [ "$rc" -eq 0 ]; then
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$work/log" | tail -n 4
  grep -E '^stat::' "$work/log"
else
  cat "$work/log"
fi
echo "fuzz: corpus grew from $nseeds to $(find "$corpus" -type f | wc -l) inputs"
if [ "$rc" -ne 0 ]; then
  echo "fuzz: FAILED (status $rc); reproducers in $artifacts:"
  ls -l "$artifacts"
  echo "fuzz: replay one with: $fuzzer $artifacts/<file>"
fi
exit "$rc"
