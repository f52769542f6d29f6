#!/usr/bin/env bash
# run.sh: one golden test (tests/CMakeLists.txt runs it once per file).
#
#   run.sh LAC check /abs/tests/golden/errors/NAME.la
#       cd to the file's folder, run `LAC check NAME.la` (so diagnostics name
#       the file as `NAME.la`), compare stderr with NAME.err beside it. The
#       exit code must be 1 when NAME.err holds an "error:", else 0 (a file
#       with warnings only passes the check). stdout is ignored. A line
#       `# args: ...` in the .la adds command-line arguments (for --set).
#
#   run.sh LAC tir /abs/tests/golden/tir/NAME.la
#       cd to the file's folder, run `LAC dump --tir NAME.la` (plus a
#       `# args: ...` line's arguments), compare stdout with NAME.tir.
#
#   run.sh LAC tokens|ast /abs/dsl_examples/NAME.la EXPECTED
#       cd to the repository root (the parent of dsl_examples), run
#       `LAC dump --tokens|--ast dsl_examples/NAME.la`, compare stdout with
#       EXPECTED; the exit code must be 0.
#
# Fails (exit 1) on any difference, a missing expected file, a wrong exit
# code, a crash (exit code >= 128, i.e. a signal) or a hang (60 s); prints
# a unified diff or the reason. Usage errors exit 2.
# scripts/regen-goldens.sh rewrites the expected files on purpose.
set -euo pipefail

usage() {
  echo "usage: $0 LAC check FILE.la" >&2
  echo "       $0 LAC tokens|ast dsl_examples/NAME.la EXPECTED" >&2
  exit 2
}

[ $# -ge 3 ] || usage
lac=$1
kind=$2
src=$3
case $lac in /*) ;; *) lac=$PWD/$lac ;; esac
[ -x "$lac" ] || { echo "FAIL: $lac is not an executable" >&2; exit 1; }
[ -f "$src" ] || { echo "FAIL: $src does not exist" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs the compiler with a time limit; sets rc. Never aborts the script.
run_lac() {
  rc=0
  timeout 60 "$lac" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
}

# A signal (>= 128; timeout's 124 is a hang) is a failure whatever the goldens say.
check_crash() {
  if [ "$rc" -eq 124 ]; then
    echo "FAIL: $name: lac hung (killed after 60 s)" >&2
    exit 1
  fi
  if [ "$rc" -ge 128 ]; then
    echo "FAIL: $name: lac crashed (exit code $rc, signal $((rc - 128)))" >&2
    cat "$tmp/err" >&2
    exit 1
  fi
}

# compare EXPECTED ACTUAL LABEL: diff -u on a mismatch.
compare() {
  if ! diff -u --label "expected: $1" --label "actual: $3" "$1" "$2" >"$tmp/diff"; then
    echo "FAIL: $name: $3 differs from $1" >&2
    cat "$tmp/diff" >&2
    exit 1
  fi
}

case $kind in
check)
  [ $# -eq 3 ] || usage
  dir=$(cd "$(dirname "$src")" && pwd)
  base=$(basename "$src")
  name=${base%.la}
  expected=$dir/$name.err
  [ -f "$expected" ] || { echo "FAIL: $name: missing expected file $expected" >&2; exit 1; }
  args=()
  line=$(grep -m1 -a '^# args: ' "$src" || true)
  [ -z "$line" ] || read -r -a args <<<"${line#\# args: }"
  cd "$dir"
  run_lac check ${args[@]+"${args[@]}"} "$base"
  check_crash
  want=0
  if grep -q -a 'error:' "$expected"; then want=1; fi
  compare "$expected" "$tmp/err" "stderr of lac check $base"
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $name: lac check exited with $rc, expected $want" >&2
    exit 1
  fi
  ;;
tir)
  [ $# -eq 3 ] || usage
  dir=$(cd "$(dirname "$src")" && pwd)
  base=$(basename "$src")
  name=${base%.la}.tir
  expected=$dir/${base%.la}.tir
  [ -f "$expected" ] || { echo "FAIL: $name: missing expected file $expected" >&2; exit 1; }
  args=()
  line=$(grep -m1 -a '^# args: ' "$src" || true)
  [ -z "$line" ] || read -r -a args <<<"${line#\# args: }"
  cd "$dir"
  run_lac dump --tir ${args[@]+"${args[@]}"} "$base"
  check_crash
  compare "$expected" "$tmp/out" "stdout of lac dump --tir $base"
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: $name: lac dump exited with $rc, expected 0" >&2
    cat "$tmp/err" >&2
    exit 1
  fi
  ;;
tokens | ast)
  [ $# -eq 4 ] || usage
  expected=$4
  name=$(basename "$src" .la).$kind
  [ -f "$expected" ] || { echo "FAIL: $name: missing expected file $expected" >&2; exit 1; }
  case $expected in /*) ;; *) expected=$PWD/$expected ;; esac
  root=$(cd "$(dirname "$src")/.." && pwd)
  rel=$(basename "$(dirname "$src")")/$(basename "$src")
  cd "$root"
  run_lac dump "--$kind" "$rel"
  check_crash
  compare "$expected" "$tmp/out" "stdout of lac dump --$kind $rel"
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: $name: lac dump exited with $rc, expected 0" >&2
    cat "$tmp/err" >&2
    exit 1
  fi
  ;;
*)
  usage
  ;;
esac
echo "PASS: $name"
