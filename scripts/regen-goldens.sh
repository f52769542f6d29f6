#!/usr/bin/env bash
# regen-goldens.sh BUILD_DIR: rewrite every golden file from the current lac.
#
# For a deliberate change of a diagnostic or a dump: rebuild, run this, then
# READ the diff it prints before committing; a golden is only as good as the
# person who checked it. Rewrites
#   tests/golden/errors/NAME.err   stderr of `lac check NAME.la` run in that
#                                  folder (plus a `# args: ...` line's arguments)
#   tests/golden/dump/NAME.KIND    stdout of `lac dump --KIND dsl_examples/NAME.la`
#                                  run from the repository root (KIND: tokens, ast)
#   tests/golden/tir/NAME.tir      stdout of `lac dump --tir NAME.la` run in that
#                                  folder (plus a `# args: ...` line's arguments)
# and the same commands as tests/golden/run.sh, which checks them. Refuses to
# write the output of a crash (exit code >= 128) or a hang.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
lac=$(cd "$1" && pwd)/lac
[ -x "$lac" ] || { echo "$0: $lac is not an executable (build first)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
errors=$root/tests/golden/errors
dumps=$root/tests/golden/dump

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

crashed=0
guard() { # guard NAME RC: a crash or hang is never a golden
  if [ "$2" -eq 124 ] || [ "$2" -ge 128 ]; then
    echo "$0: $1: lac crashed or hung (exit code $2); golden left as it was" >&2
    crashed=1
    return 1
  fi
}

n=0
shopt -s nullglob
for f in "$errors"/*.la; do
  base=$(basename "$f")
  args=()
  line=$(grep -m1 -a '^# args: ' "$f" || true)
  [ -z "$line" ] || read -r -a args <<<"${line#\# args: }"
  rc=0
  (cd "$errors" && timeout 60 "$lac" check ${args[@]+"${args[@]}"} "$base" >/dev/null 2>"$tmp") || rc=$?
  guard "$base" "$rc" || continue
  cp "$tmp" "$errors/${base%.la}.err"
  n=$((n + 1))
done

for g in "$dumps"/*; do
  file=$(basename "$g")
  name=${file%.*}
  kind=${file##*.}
  case $kind in tokens | ast) ;; *) echo "$0: skipping $file (not .tokens or .ast)" >&2; continue ;; esac
  rc=0
  (cd "$root" && timeout 60 "$lac" dump "--$kind" "dsl_examples/$name.la" >"$tmp" 2>/dev/null) || rc=$?
  guard "$file" "$rc" || continue
  cp "$tmp" "$g"
  n=$((n + 1))
done

tirs=$root/tests/golden/tir
for f in "$tirs"/*.la; do
  base=$(basename "$f")
  args=()
  line=$(grep -m1 -a '^# args: ' "$f" || true)
  [ -z "$line" ] || read -r -a args <<<"${line#\# args: }"
  rc=0
  (cd "$tirs" && timeout 60 "$lac" dump --tir ${args[@]+"${args[@]}"} "$base" >"$tmp" 2>/dev/null) || rc=$?
  guard "$base" "$rc" || continue
  cp "$tmp" "$tirs/${base%.la}.tir"
  n=$((n + 1))
done

echo "regenerated $n golden files; what changed:"
cd "$root"
git diff --stat -- tests/golden
new=$(git status --short --untracked-files=all -- tests/golden | sed -n 's/^?? //p')
if [ -n "$new" ]; then
  count=$(printf '%s\n' "$new" | wc -l)
  echo "$count new (untracked) files under tests/golden:"
  printf '%s\n' "$new" | head -n 20 | sed 's/^/  /'
  [ "$count" -le 20 ] || echo "  ... and $((count - 20)) more"
fi
exit "$crashed"
