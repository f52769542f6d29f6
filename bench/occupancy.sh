#!/usr/bin/env bash
# occupancy.sh LAC [ARCH] [EXAMPLE...]: what limits the forward kernels'
# occupancy, without a GPU. For every configuration of each example's
# tuning space (`lac compile --all-configs`), ptxas' registers per thread
# and the lac-kernel line's shared memory give the thread blocks one SM
# holds (sm_90: 65536 registers, 228 KiB of shared memory with 1 KiB
# reserved per block, 2048 threads) and which resource binds.
set -uo pipefail
lac=$1 arch=${2:-sm_90a}
shift $(( $# >= 2 ? 2 : $# ))
root=$(cd "$(dirname "$0")/.." && pwd)
ptxas=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(linear retnet simple_gla gla mamba2 linear_elu based)
printf '%-12s %-26s %-12s %5s %5s %7s %6s %s\n' example config kernel thr regs smem_KB blk/SM bound
for name in "${names[@]}"; do
  "$lac" compile "$root/dsl_examples/$name.la" --all-configs -o "$tmp/$name" --arch "$arch" > /dev/null 2>&1
  for ptx in "$tmp/$name"/*.ptx; do
    cfg=$(basename "$ptx" .ptx)
    cfg=${cfg#"$name".}
    "$ptxas" -arch="$arch" -v "$ptx" -o "$tmp/k.cubin" > "$tmp/v" 2>&1 || { echo "$name $cfg: ptxas failed"; continue; }
    # ptxas reports functions in its own order: pair them by name.
    grep '^// lac-kernel' "$ptx" | while read -r line; do
      kname=$(sed -n 's/.* name=\([a-z0-9_]*\) .*/\1/p' <<< "$line")
      thr=$(sed -n 's/.* threads=\([0-9]*\) .*/\1/p' <<< "$line")
      smem=$(sed -n 's/.* smem=\([0-9]*\) .*/\1/p' <<< "$line")
      regs=$(awk -v k="$kname" '/Compiling entry function/ { cur = ($0 ~ "'"'"'" k "'"'"'") } cur && /Used [0-9]+ registers/ { for (i = 1; i <= NF; i++) if ($i == "Used") { print $(i + 1); exit } }' "$tmp/v")
      [ -n "$regs" ] || regs=0
      # Registers are allocated per warp in units of 256 (8 a thread).
      r8=$(( (regs + 7) / 8 * 8 ))
      by_regs=$(( r8 > 0 ? 65536 / (r8 * thr) : 32 ))
      by_smem=$(( 233472 / (smem + 1024) ))
      by_thr=$(( 2048 / thr ))
      blk=$by_regs
      [ "$by_smem" -lt "$blk" ] && blk=$by_smem
      [ "$by_thr" -lt "$blk" ] && blk=$by_thr
      bound=""
      [ "$by_regs" -eq "$blk" ] && bound+="registers "
      [ "$by_smem" -eq "$blk" ] && bound+="shared "
      [ "$by_thr" -eq "$blk" ] && bound+="threads"
      printf '%-12s %-26s %-12s %5s %5s %7.1f %6s %s\n' "$name" "$cfg" "${kname#lac_"$name"_}" "$thr" "$regs" \
        "$(awk "BEGIN{print $smem/1024}")" "$blk" "$bound"
    done
  done
done
