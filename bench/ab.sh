#!/usr/bin/env bash
# ab.sh: the A/B of a compiler change on the GPU machine, old PTX beside new
# in one device call, so that both see the same machine and clocks.
#
#   bench/ab.sh prepare BASE NEW_LAC [OP[:SET,SET...]]...
#       here (no GPU): build the compiler of commit BASE in a git worktree
#       (/tmp/lac-ab-BASE, kept for the next prepare), compile each OP of
#       dsl_examples/ (or tests/gpu/) with it and with NEW_LAC for sm_90a at
#       its sets (default warps=8,block_v=64,stages=3) into ab/ at the top
#       of the tree: untracked files, which the device tool carries. Delete
#       ab/ after the call.
#   bash bench/ab.sh run BUILD OUT [SHAPE...]
#       there: lac_gpu_fwd --no-check --bench 10 (L2 flushed, median of
#       events) of every prepared OP, old then new, at each SHAPE (default
#       4,4096,16 and 8,2048,16), two rounds; one line each into OUT/ab.txt:
#       round op shape old|new and the schedules' ms (full, split).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
case "$mode" in
prepare)
  [ $# -ge 3 ] || { echo "usage: $0 prepare BASE NEW_LAC [OP[:SET,...]]..." >&2; exit 2; }
  base=$2 new=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
  shift 3
  [ $# -gt 0 ] || set -- linear retnet simple_gla gla:warps=8,block_v=64,stages=2
  wt=/tmp/lac-ab-$(git -C "$root" rev-parse --short "$base") || exit 1
  if [ ! -x "$wt/build-ci/lac" ]; then
    git -C "$root" worktree add -f "$wt" "$base" > /dev/null || exit 1
    (cd "$wt" && cmake --preset ci > /dev/null && cmake --build build-ci --target lac > /dev/null) || exit 1
  fi
  mkdir -p "$root/ab"
  : > "$root/ab/ops"
  for spec in "$@"; do
    op=${spec%%:*} sets=warps=8,block_v=64,stages=3
    [ "$op" != "$spec" ] && sets=${spec#*:}
    la=$root/dsl_examples/$op.la
    [ -f "$la" ] || la=$root/tests/gpu/$op.la
    ps=()
    for kv in ${sets//,/ }; do ps+=(--set "$kv"); done
    "$wt/build-ci/lac" compile "$la" -o "$root/ab/$op.old.ptx" --arch sm_90a "${ps[@]}" || exit 1
    "$new" compile "$la" -o "$root/ab/$op.new.ptx" --arch sm_90a "${ps[@]}" || exit 1
    echo "$op ${la#"$root"/} $sets" >> "$root/ab/ops"
    echo "ab: $op [$sets]: ab/$op.old.ptx ($base), ab/$op.new.ptx"
  done
  ;;
run)
  [ $# -ge 3 ] || { echo "usage: $0 run BUILD OUT [SHAPE...]" >&2; exit 2; }
  build=$(cd "$2" && pwd) out=$3
  shift 3
  [ $# -gt 0 ] || set -- 4,4096,16 8,2048,16
  export LD_LIBRARY_PATH=$build:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  mkdir -p "$out"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for round in 1 2; do
    while read -r op la sets; do
      ps=()
      for kv in ${sets//,/ }; do ps+=(--set "$kv"); done
      for shape in "$@"; do
        for w in old new; do
          "$build/tests/gpu/lac_gpu_fwd" "$root/$la" --ptx "$root/ab/$op.$w.ptx" --shape "$shape" --no-check \
            --bench 10 --schedule all "${ps[@]}" > "$tmp/o" 2>&1
          ms=$(sed -n 's/.*bench: median \([0-9.]*\) ms.*/\1/p' "$tmp/o" | tr '\n' ' ')
          echo "$round $op $shape $w ${ms:-failed: $(tail -1 "$tmp/o")}" | tee -a "$out/ab.txt"
        done
      done
    done < "$root/ab/ops"
  done
  ;;
*)
  echo "usage: $0 prepare BASE NEW_LAC [OP[:SET,...]]... | $0 run BUILD OUT [SHAPE...]" >&2
  exit 2
  ;;
esac
