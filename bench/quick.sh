#!/usr/bin/env bash
# quick.sh BUILD OUT_DIR: lac alone, forward timings of linear at a few
# configurations (L2 flushed, median of events), for a first look at a
# change on the GPU machine. The full comparison with fla is run_bench.sh.
set -uo pipefail
build=$1
out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
export LD_LIBRARY_PATH=$build:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # name shape schedule sets...
  local name=$1 shape=$2 sched=$3
  shift 3
  local ps=()
  for kv in "$@"; do ps+=(--set "$kv"); done
  "$build/lac" compile "$root/dsl_examples/$name.la" -o "$tmp/k.ptx" --arch sm_90a "${ps[@]}" || return
  "$build/tests/gpu/lac_gpu_fwd" "$root/dsl_examples/$name.la" --ptx "$tmp/k.ptx" --shape "$shape" --no-check \
    --bench 10 --schedule "$sched" "${ps[@]}" > "$tmp/o" 2>&1
  local ms regs
  ms=$(sed -n 's/.*bench: median \([0-9.]*\) ms.*/\1/p' "$tmp/o" | tr '\n' ' ')
  regs=$(sed -n 's/.*; \([0-9]*\) registers.*/\1/p' "$tmp/o" | tr '\n' ' ')
  echo "$name $shape $sched [$*]: ms $ms regs $regs" | tee -a "$out/quick.txt"
  [ -n "$ms" ] || tail -5 "$tmp/o"
}
for cfg in "warps=4 block_v=32 stages=2" "warps=4 block_v=32 stages=3" "warps=8 block_v=32 stages=3" "warps=8 block_v=64 stages=2" "warps=8 block_v=64 stages=3"; do
  run linear 4,4096,16 all $cfg
done
run linear 1,32768,8 all warps=8 block_v=64 stages=3
run linear 8,4096,32 all warps=8 block_v=64 stages=3 K=64 V=64
run simple_gla 4,4096,16 full warps=8 block_v=64 stages=3
run retnet 4,4096,16 full warps=8 block_v=64 stages=3
run gla 4,4096,16 full warps=8 block_v=64 stages=2
run gla 4,4096,16 full warps=8 block_v=32
