#!/usr/bin/env bash
# split_sweep.sh BUILD OUT_FILE [OP SHAPE "OUT:STATE ..."]...: times the
# sequence split at chosen output / state segment counts (lac_gpu_fwd
# --segments / --state-segments, --no-check --bench 10: L2 flushed, median
# of events), and the plan's own choice (0:0), to fit the cost model of
# fwd_split_plan (runtime/launch.c). Default: linear and retnet at the
# issue's two few-block shapes. Lines: op shape out:state ms (plan).
set -uo pipefail
build=$1
outf=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
export LD_LIBRARY_PATH=$build:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -eq 0 ]; then
  set -- linear 2,8192,16 "0:0 2:2 2:4 2:6 2:8 2:16 4:4 4:8 4:16" \
         linear 1,32768,8 "0:0 8:8 8:16 8:24 8:32 16:16 16:32" \
         retnet 2,8192,16 "0:0 2:2 2:4 2:8 4:8" \
         retnet 1,32768,8 "0:0 8:8 8:16 8:32"
fi
while [ $# -ge 3 ]; do
  op=$1 shape=$2 pairs=$3
  shift 3
  ps=(--set K=128 --set V=128 --set warps=8 --set block_v=64 --set stages=3)
  if ! "$build/lac" compile "$root/dsl_examples/$op.la" -o "$tmp/k.ptx" --arch sm_90a "${ps[@]}" 2> "$tmp/err"; then
    echo "$op: compile failed: $(head -1 "$tmp/err")" | tee -a "$outf"
    continue
  fi
  for p in $pairs; do
    o=${p%%:*} s=${p##*:}
    args=()
    [ "$o" != 0 ] && args+=(--segments "$o")
    [ "$s" != 0 ] && args+=(--state-segments "$s")
    "$build/tests/gpu/lac_gpu_fwd" "$root/dsl_examples/$op.la" --ptx "$tmp/k.ptx" --shape "$shape" "${ps[@]}" \
      --no-check --bench 10 --schedule split "${args[@]}" > "$tmp/o" 2>&1
    ms=$(sed -n 's/.*bench: median \([0-9.]*\) ms.*/\1/p' "$tmp/o" | head -1)
    plan=$(sed -n 's/^schedule split: //p' "$tmp/o" | head -1)
    echo "$op $shape $p ${ms:-FAILED} ($plan)" | tee -a "$outf"
    [ -n "$ms" ] || tail -3 "$tmp/o" | tee -a "$outf"
  done
done
