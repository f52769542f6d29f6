#!/usr/bin/env bash
# check_examples.sh LAC REPO_ROOT: every example is a working, documented file.
#
# The eleven variants of dsl_examples/ must all be there; each must pass
# `lac check -Werror`, open with a '#' comment header that gives its shapes
# and the `lac check` command that runs it (STYLE.md, practice 11), and run
# through the float64 reference at an odd shape (T = 17 is no multiple of any
# chunk size). The last line is "N passed, M failed".
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 LAC REPO_ROOT" >&2
  exit 2
fi
lac=$1
dir=$2/dsl_examples
expected=(linear linear_norm linear_elu retnet lightning simple_gla gla based cosformer hedgehog mamba2)

passed=0
failed=0
pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }

for name in "${expected[@]}"; do
  [ -f "$dir/$name.la" ] && pass "$name.la exists" || fail "$name.la exists ($dir/$name.la is missing)"
done

shopt -s nullglob
files=("$dir"/*.la)
if [ ${#files[@]} -eq 0 ]; then
  fail "no .la file in $dir"
fi

log=$(mktemp "${TMPDIR:-/tmp}/lac-examples.XXXXXX")
trap 'rm -f "$log"' EXIT

for f in "${files[@]}"; do
  name=$(basename "$f")
  stem=${name%.la}

  if "$lac" check -Werror "$f" >"$log" 2>&1; then
    pass "$name: lac check -Werror"
  else
    fail "$name: lac check -Werror"
    sed 's/^/      | /' "$log"
  fi

  # The header: the leading run of '#' lines, before any code.
  header=$(awk '/^#/ { print; next } { exit }' "$f")
  if [ -z "$header" ]; then
    fail "$name: opens with a '#' comment header"
  else
    pass "$name: opens with a '#' comment header"
    grep -q 'Shapes' <<<"$header" && pass "$name: header gives the Shapes" ||
      fail "$name: header gives the Shapes (no word 'Shapes')"
    grep -Eq "lac check ([^ ]*/)?$stem\\.la" <<<"$header" && pass "$name: header has a 'lac check' command line" ||
      fail "$name: header has a 'lac check ...$name' command line"
  fi

  if "$lac" ref "$f" --shape 1,17,2 >"$log" 2>&1; then
    pass "$name: lac ref --shape 1,17,2"
  else
    fail "$name: lac ref --shape 1,17,2"
    sed 's/^/      | /' "$log"
  fi
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
