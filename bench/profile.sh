#!/usr/bin/env bash
# profile.sh BUILD OUT_DIR NAME SHAPE SETS...: one launch of NAME's state-on-chip
# forward under Nsight Compute (clocks left alone), the summary sections.
set -uo pipefail
build=$1; out=$2; name=$3; shape=$4; shift 4
root=$(cd "$(dirname "$0")/.." && pwd)
export LD_LIBRARY_PATH=$build:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
ps=(); for kv in "$@"; do ps+=(--set "$kv"); done
"$build/lac" compile "$root/dsl_examples/$name.la" -o /tmp/p.ptx --arch sm_90a "${ps[@]}" || exit 1
"$ncu" --clock-control none -k "lac_${name}_fwd" -c 1 --section SpeedOfLight --section Occupancy \
  --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis \
  "$build/tests/gpu/lac_gpu_fwd" "$root/dsl_examples/$name.la" --ptx /tmp/p.ptx --shape "$shape" --no-check \
  --schedule full "${ps[@]}" > "$out/ncu_$name.txt" 2>&1
grep -E "Duration|Throughput|Warp Cycles|Stall|Occupancy|Eligible|Issued|No Eligible|Registers|Block Limit|L2 Hit|DRAM" "$out/ncu_$name.txt" | head -60
