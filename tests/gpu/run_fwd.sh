#!/usr/bin/env bash
# run_fwd.sh LAC LAC_GPU_FWD REPO_ROOT [ARCH]: the GPU test of the forward
# kernels. For every example the code generator supports, at several head
# dims (--set K=, V=) and block sizes: `lac compile`, then `lac_gpu_fwd`
# against the float64 reference on fresh random inputs with poisoned outputs,
# shapes with T = 1 and T not a multiple of the chunk, with an initial state
# and the final state checked. Exit 77 (skip) without a GPU.
set -uo pipefail
lac=$1
gpu=$2
root=$3
arch=${4:-sm_90a}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
examples="linear retnet lightning simple_gla"
dims=("K=128 V=128 block_v=64" "K=128 V=128 block_v=32" "K=64 V=64 block_v=64" "K=64 V=128 block_v=128" "K=32 V=48 block_v=32" "K=16 V=16 block_v=16")
shapes="1,1,1 2,300,4 1,64,3 3,129,2"
seed=1
for name in $examples; do
  for d in "${dims[@]}"; do
    # block_v is a tile setting, not a param: pass it through a copy of the file.
    bv=${d##*block_v=}
    src=$tmp/$name.la
    sed -E "s/^(\s*)tile .*/\1tile chunk = 64, block_v = $bv;/; s/^(\s*)tune .*//" "$root/dsl_examples/$name.la" > "$src"
    psets=()
    for kv in $d; do case $kv in block_v=*) ;; *) psets+=(--set "$kv") ;; esac; done
    ptx=$tmp/$name.ptx
    if ! "$lac" compile "$src" -o "$ptx" --arch "$arch" "${psets[@]}" 2> "$tmp/err"; then
      echo "FAIL: $name [$d]: lac compile: $(cat "$tmp/err")"
      fail=$((fail + 1))
      continue
    fi
    vdim=$(sed -n 's/.* dv=\([0-9]*\) .*/\1/p' "$ptx" | head -1)
    for shape in $shapes; do
      seed=$((seed + 1))
      # The relative L2 error is a statistic: over fewer than 1024 output
      # values (T = 1, one head, small V) its spread alone can pass 3e-3, so
      # there the elementwise bound |x - r| <= atol + rtol |r| decides.
      IFS=, read -r sb st sh <<< "$shape"
      l2=()
      if [ $((sb * st * sh * vdim)) -lt 1024 ]; then l2=(--max-rel-l2 1); fi
      "$gpu" "$src" --ptx "$ptx" --shape "$shape" --seed "$seed" --initial-state --final-state "${l2[@]}" "${psets[@]}" > "$tmp/out" 2>&1
      rc=$?
      if [ "$rc" -eq 77 ]; then
        cat "$tmp/out"
        echo "SKIP: no GPU"
        exit 77
      elif [ "$rc" -eq 0 ]; then
        echo "PASS: $name [$d] shape $shape: $(grep -m1 -o 'rel_l2 [^ ]*\|relative L2 [^,]*' "$tmp/out" | head -1)"
        pass=$((pass + 1))
      else
        echo "FAIL: $name [$d] shape $shape (exit $rc):"
        sed 's/^/    /' "$tmp/out" | head -40
        fail=$((fail + 1))
      fi
    done
  done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
