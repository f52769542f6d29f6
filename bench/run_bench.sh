#!/usr/bin/env bash
# run_bench.sh BUILD_DIR OUT_CSV [--lac OPS] [--fla OPS] [--configs "SETS;SETS"]:
# the forward benchmark of issue 3 on a GPU machine. For each op and shape,
# lac at each configuration (`lac compile --set ...`, then `lac_gpu_fwd
# --no-check --bench 10`: L2 flushed before each launch, median of CUDA
# events) for both schedules (state on chip; sequence split), then fla's
# matching op (bench/fla_fwd.py, needs fla on PYTHONPATH) on the same shapes.
# CSV rows: impl,op,B,T,H,D,config,ms,graph_ms. bench/compare.py makes the
# table and the chart.
set -uo pipefail
build=$1
csv=$2
shift 2
lac_ops="linear linear_norm retnet simple_gla gla"
fla_ops=""
configs="warps=8 block_v=64 stages=3"
while [ $# -gt 0 ]; do
  case $1 in
    --fla) fla_ops=$2; shift 2 ;;
    --lac) lac_ops=${2//,/ }; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
shapes="4,4096,16,128 8,2048,16,128 2,8192,16,128 8,4096,32,64 1,32768,8,128"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LD_LIBRARY_PATH=$build:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
la_of() { [ -f "$root/dsl_examples/$1.la" ] && echo "$root/dsl_examples/$1.la" || echo "$root/bench/$1.la"; }
IFS=';' read -ra cfgs <<< "$configs"
for op in $lac_ops; do
  src=$(la_of "$op")
  for cfg in "${cfgs[@]}"; do
    for s in $shapes; do
      IFS=, read -r B T H D <<< "$s"
      ps=(--set "K=$D" --set "V=$D")
      for kv in $cfg; do ps+=(--set "$kv"); done
      # gla at block_v 64 has room for two stages only (its gate ring is
      # scanned in place; three do not fit)
      [ "$op" = gla ] && ps+=(--set block_v=64 --set stages=2)
      if ! "$build/lac" compile "$src" -o "$tmp/k.ptx" --arch sm_90a "${ps[@]}" 2> "$tmp/err"; then
        echo "lac $op $s [$cfg]: compile failed: $(head -1 "$tmp/err")"
        continue
      fi
      out=$("$build/tests/gpu/lac_gpu_fwd" "$src" --ptx "$tmp/k.ptx" --shape "$B,$T,$H" "${ps[@]}" --no-check --bench 10 2>&1)
      mapfile -t ms < <(printf '%s\n' "$out" | sed -n 's/.*bench: median \([0-9.]*\) ms.*/\1/p')
      if [ ${#ms[@]} -lt 1 ]; then
        echo "lac $op $s [$cfg]: FAILED"; printf '%s\n' "$out" | tail -4
        continue
      fi
      tag=$(echo "$cfg" | tr ' ' '/')
      [ "$op" = gla ] && tag=$(echo "$tag" | sed 's/block_v=[0-9]*/block_v=64/; s/stages=[0-9]*/stages=2/')
      plan=$(printf '%s\n' "$out" | sed -n 's/^schedule split: //p' | head -1)
      echo "lac $op B$B T$T H$H D$D [$cfg]: full ${ms[0]} ms, split ${ms[1]:-} ms${plan:+ ($plan)}"
      echo "lac,$op,$B,$T,$H,$D,$tag/full,${ms[0]}," >> "$csv"
      [ -n "${ms[1]:-}" ] && echo "lac,$op,$B,$T,$H,$D,$tag/split,${ms[1]}," >> "$csv"
    done
  done
done
if [ -n "$fla_ops" ]; then
  fshapes=$(echo $shapes | tr ' ' ';')
  python3 "$root/bench/fla_fwd.py" --ops "$fla_ops" --shapes "$fshapes" --csv "$csv"
fi
