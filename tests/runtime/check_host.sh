#!/usr/bin/env bash
# check_host.sh LAC_HOST LAC FAKE_DRIVER REPO: the host example and `lac
# tune` on the CPU "driver" (tests/gpu/fake_cuda.c), which computes
# dsl_examples/linear.la on the host.
#   - a cold start tunes, a warm start (a new process) finds the database
#   - lac tune shows its progress and the choice
#   - LAC_DUMP_DIR writes the tile IR, LLVM IR, PTX and JIT log of each build
#   - without a driver: exit 77 and a plain message, no crash
set -uo pipefail
host=$1 lac=$2 fake=$3 root=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check NAME COMMAND...: the command must succeed
  local name=$1
  shift
  if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; fail=1; fi
}
export LAC_CACHE_DIR=$tmp/cache
LAC_CUDA_DRIVER=$fake "$host" "$root/dsl_examples/linear.la" --shape 2,70,3 --runs 2 > "$tmp/cold" 2>&1
rc=$?
cat "$tmp/cold"
check "cold start passes" test "$rc" -eq 0
check "cold start tuned" grep -q "(tuned now)" "$tmp/cold"
LAC_CUDA_DRIVER=$fake "$host" "$root/dsl_examples/linear.la" --shape 2,70,3 --runs 2 > "$tmp/warm" 2>&1
rc=$?
cat "$tmp/warm"
check "warm start passes" test "$rc" -eq 0
check "warm start uses the database" grep -q "(tuning database)" "$tmp/warm"

LAC_CUDA_DRIVER=$fake "$lac" tune "$root/dsl_examples/linear.la" --shape 1,200,2 > "$tmp/tune" 2>&1
rc=$?
cat "$tmp/tune"
check "lac tune" test "$rc" -eq 0
check "lac tune progress" grep -q '^lac: \[4/4\]' "$tmp/tune"
check "lac tune choice" grep -q 'T256 BH2 K128 V128 bf16 on lac fake CPU device: chunk=64' "$tmp/tune"
LAC_CUDA_DRIVER=$fake "$lac" tune "$root/dsl_examples/linear.la" --shape 1,200,2 > "$tmp/tune2" 2>&1
check "lac tune again: database" grep -q 'from the tuning database' "$tmp/tune2"

# LAC_DUMP_DIR: every stage of what the runtime compiles, per configuration.
LAC_DUMP_DIR=$tmp/dump LAC_CUDA_DRIVER=$fake "$host" "$root/dsl_examples/linear.la" --shape 1,64,1 --runs 1 > "$tmp/dump.out" 2>&1
check "LAC_DUMP_DIR run passes" grep -q "lac_host: PASS" "$tmp/dump.out"
for ext in tir ll ptx jit.log; do
  check "LAC_DUMP_DIR: 4 .$ext files" test "$(ls "$tmp"/dump/linear.*."$ext" 2>/dev/null | wc -l)" -eq 4
done
check "LAC_DUMP_DIR: the tile IR" grep -q "^kernel lac_linear_fwd:" "$tmp/dump/linear.bv64.w8.s3.c64.sc16.bk128.tir"
check "LAC_DUMP_DIR: the PTX" grep -q "mma.sync" "$tmp/dump/linear.bv64.w8.s3.c64.sc16.bk128.ptx"

LAC_CUDA_DRIVER=/nonexistent/libcuda.so.1 "$host" "$root/dsl_examples/linear.la" > "$tmp/nodrv" 2>&1
rc=$?
cat "$tmp/nodrv"
check "no driver: exit 77" test "$rc" -eq 77
check "no driver: message" grep -q "no CUDA driver" "$tmp/nodrv"
LAC_CUDA_DRIVER=/nonexistent/libcuda.so.1 "$lac" tune "$root/dsl_examples/linear.la" --shape 1,64,1 > "$tmp/nodrv2" 2>&1
rc=$?
check "lac tune without a driver: exit 3" test "$rc" -eq 3
check "lac tune without a driver: message" grep -q "no CUDA driver" "$tmp/nodrv2"
exit $fail
