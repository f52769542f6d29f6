#!/usr/bin/env bash
# run_fwd.sh LAC LAC_GPU_FWD REPO_ROOT [ARCH] [--quick]: the GPU test of the
# forward kernels. For every example, at several head dims (--set K=, V=),
# dtypes (the file with bf16 replaced) and tuning configurations (--set
# block_v=, warps=, stages=): `lac compile`, then `lac_gpu_fwd` against the
# float64 reference on fresh random inputs with poisoned outputs, at shapes
# with T = 1 and T not a multiple of the chunk, with an initial state and the
# final state checked, for both schedules (the state on chip, and the
# sequence split in 3 segments). Exit 77 (skip) without a GPU.
set -uo pipefail
lac=$1
gpu=$2
root=$3
arch=${4:-sm_90a}
quick=${5:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
seed=1
# example | dtype | --set list (params and tile settings) | shapes [| options of lac_gpu_fwd [| arch]]
cases=(
  "linear|bf16||1,1,1 2,300,4 3,129,2"
  "linear|bf16|warps=8 block_v=64|2,300,4 1,64,3"
  "linear|bf16|warps=8 block_v=64 stages=3|2,300,4"
  "linear|bf16|warps=4 block_v=32 stages=1|3,129,2"
  "linear|bf16|K=64 V=128 block_v=64|2,300,4 1,1,1"
  "linear|bf16|K=32 V=48 block_v=48|2,300,4"
  "linear|bf16|K=16 V=16 block_v=16|3,129,2"
  "linear|bf16|K=256 V=64 block_v=32 stages=2|2,300,4"
  "linear|f16|block_v=64|2,300,4 1,1,1"
  # The warpgroup path's tiles (128-byte swizzle) under the per-warp
  # mma.sync of sm_80 PTX, which the driver runs on any newer GPU.
  "linear|bf16|warps=8 block_v=64 stages=3|3,129,2||sm_80"
  # The same for simple_gla's decay scanned a chunk ahead (ld.token lanes
  # carried through the loop, the scan on all state warps).
  "simple_gla|bf16|warps=8 block_v=64 stages=3|3,129,2 2,300,4||sm_80"
  "retnet|bf16|warps=8 block_v=64 K=64 V=64|2,300,4"
  "linear|f32|block_v=32 stages=1|2,300,4"
  "retnet|bf16||2,300,4 1,1,1"
  "retnet|bf16|block_v=32 stages=2|3,129,2"
  "lightning|bf16||2,300,4"
  "simple_gla|bf16||2,300,4 1,1,1"
  "simple_gla|bf16|block_v=32 stages=2|3,129,2"
  "simple_gla|f16||2,300,4"
  "gla|bf16||2,300,4 1,1,1"
  "gla|bf16|warps=4 block_v=32|3,129,2"
  "gla|f16|warps=8|2,300,4"
  "mamba2|bf16||2,300,4 1,1,1"
  "mamba2|bf16|block_v=64 stages=3|3,129,2"
  "linear_elu|bf16||2,300,4 1,1,1"
  "linear_elu|bf16|block_v=64|3,129,2"
  "cosformer|bf16||2,300,4"
  "based|bf16||2,300,4"
  "hedgehog|bf16||2,300,4"
  # Steep gates: a per-key decay of about -5 a token takes every sub-chunk
  # past the clamp (60) and into GLA's exact diagonal path.
  "gla|bf16|warps=8|2,300,4 3,129,2|--gate-scale 100"
  # simple_gla with steeper gates (a chunk's decay spans about 30, and
  # about 300), per warp and as warpgroups.
  "simple_gla|bf16||2,300,4|--gate-scale 10"
  "simple_gla|bf16|warps=8 block_v=64 stages=3|2,300,4 3,129,2|--gate-scale 10"
  "simple_gla|bf16|warps=8 block_v=64 stages=3|2,300,4|--gate-scale 100"
  "simple_gla|bf16|block_v=32 stages=2|2,300,4|--gate-scale 100"
  # Output segments of several state segments (the split's grp > 1), the
  # last ones short: T = 1000 is 16 chunks, 6 state segments of 3 in 2
  # output segments; 777 is 13 chunks, 5 state segments.
  "linear|bf16|warps=8 block_v=64 stages=3|2,1000,4 1,777,3|--segments 2 --state-segments 6"
  "simple_gla|bf16|block_v=64|2,1000,4|--segments 3 --state-segments 9"
  "gla|bf16|warps=8|1,777,3|--segments 2 --state-segments 6"
  # GLA at block_v 64 with two stages (the scan in place frees the room),
  # and a bf16 gate, which keeps B a tile of its own (tests/gpu/gla_key_gate.la).
  "gla|bf16|warps=8 block_v=64 stages=2|2,300,4 3,129,2"
  "gla|bf16|warps=8 block_v=64 stages=2|2,300,4|--gate-scale 100"
  # GLA's fast form (warpgroups, the chunk's start as reference) with gates
  # about -1 a token: a chunk's |B| passes 60 in some chunks and not in
  # others, so both forms run in one launch; at K = 64; and as per-warp
  # mma.sync in sm_80 PTX.
  "gla|bf16|warps=8 block_v=64 stages=2|2,300,4 3,129,2 1,777,3|--gate-scale 20"
  "gla|bf16|warps=8 block_v=64 stages=2 K=64 V=64|2,300,4 1,1,1"
  "gla|bf16|warps=8 block_v=64 stages=1|3,129,2 2,300,4||sm_80"
  "gla_key_gate|bf16||2,300,4 1,1,1"
  # The normalizer: per warp (block_v 32) and as warpgroups (block_v 64,
  # q.z from the product 8 columns wider), and the split's records with z.
  "linear_norm|bf16||2,300,4 1,1,1"
  "linear_norm|bf16|block_v=64 stages=3|2,300,4 3,129,2"
  "linear_norm|f16|block_v=64 stages=2 K=64 V=64|2,300,4"
  "linear_norm|bf16|block_v=64 stages=3|2,1000,4|--segments 2 --state-segments 6"
  # The normalizer with a per-head decay's table (tests/gpu/retnet_norm.la).
  "retnet_norm|bf16|block_v=64|2,300,4 3,129,2"
  "retnet_norm|bf16|block_v=32|2,300,4|--segments 2 --state-segments 4"
)
if [ "$quick" = "--quick" ]; then cases=("${cases[0]}" "${cases[12]}" "${cases[15]}" "${cases[18]}" "${cases[23]}"); fi
for c in "${cases[@]}"; do
  IFS='|' read -r name dtype sets shapes opts carch <<< "$c"
  read -r -a xopts <<< "${opts:-}"
  src=$tmp/$name.$dtype.la
  la=$root/dsl_examples/$name.la
  [ -f "$la" ] || la=$root/tests/gpu/$name.la
  sed "s/\bbf16\b/$dtype/g" "$la" > "$src"
  psets=()
  for kv in $sets; do psets+=(--set "$kv"); done
  ptx=$tmp/$name.ptx
  if ! "$lac" compile "$src" -o "$ptx" --arch "${carch:-$arch}" "${psets[@]}" 2> "$tmp/err"; then
    echo "FAIL: $name $dtype [$sets]: lac compile: $(head -3 "$tmp/err")"
    fail=$((fail + 1))
    continue
  fi
  vdim=$(sed -n 's/.* dv=\([0-9]*\) .*/\1/p' "$ptx" | head -1)
  for shape in $shapes; do
    seed=$((seed + 1))
    # The relative L2 error is a statistic: over fewer than 1024 output
    # values (T = 1, one head, small V) its spread alone can pass the bar,
    # so there the elementwise bound |x - r| <= atol + rtol |r| decides.
    IFS=, read -r sb st sh <<< "$shape"
    l2=()
    if [ $((sb * st * sh * vdim)) -lt 1024 ]; then l2=(--max-rel-l2 1); fi
    "$gpu" "$src" --ptx "$ptx" --shape "$shape" --seed "$seed" --segments 3 --initial-state --final-state \
      "${l2[@]}" "${psets[@]}" "${xopts[@]}" > "$tmp/out" 2>&1
    rc=$?
    errs=$(grep -o 'rel_l2 [0-9.e+-]*' "$tmp/out" | awk '{print $2}' | tr '\n' ' ')
    if [ "$rc" -eq 77 ]; then
      cat "$tmp/out"
      echo "SKIP: no GPU"
      exit 77
    elif [ "$rc" -eq 0 ]; then
      echo "PASS: $name $dtype [$sets]${opts:+ $opts}${carch:+ $carch} shape $shape: rel_l2 (o, s, [z]) per schedule: $errs"
      pass=$((pass + 1))
    else
      echo "FAIL: $name $dtype [$sets]${opts:+ $opts} shape $shape (exit $rc):"
      sed 's/^/    /' "$tmp/out" | grep -v '^    kernel \|^    device\|^    ptx:\|^    reference:' | head -30
      fail=$((fail + 1))
    fi
  done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
