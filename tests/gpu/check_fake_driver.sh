#!/usr/bin/env bash
# check_fake_driver.sh LAC_GPU_FWD REPO_ROOT LIBFAKECUDA: lac_gpu_fwd's whole
# path (driver table, upload, poison, launch by the kernel ABI, download, comparison,
# guards, faults, bench) on the CPU "driver" of tests/gpu/fake_cuda.c, whose
# kernels for dsl_examples/linear.la are right or wrong on purpose. So the
# harness is tested on every machine, before any GPU time is spent on it.
set -uo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 LAC_GPU_FWD REPO_ROOT LIBFAKECUDA" >&2
  exit 2
fi
bin=$1
root=$2
export LAC_CUDA_DRIVER=$3
la=$root/dsl_examples/linear.la
ptx=$root/tests/gpu/fake_linear.ptx

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lac-fake.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
passed=0
failed=0
rc=0

run() {
  "$bin" "$la" --ptx "$ptx" "$@" >"$out" 2>&1
  rc=$?
}

# expect NAME CODE PATTERN...: the last run exited with CODE and printed every PATTERN.
expect() {
  local name=$1 code=$2 missing=""
  shift 2
  for pat in "$@"; do grep -Eq -- "$pat" "$out" || missing="$missing /$pat/"; done
  if [ "$rc" -eq "$code" ] && [ -z "$missing" ]; then
    echo "PASS: $name"
    passed=$((passed + 1))
  else
    echo "FAIL: $name: exit $rc (expected $code)${missing:+, not found:$missing}"
    sed 's/^/      | /' "$out"
    failed=$((failed + 1))
  fi
}

run --kernel linear_ref --shape 2,37,3 --initial-state --final-state --bench 3
expect "a right kernel passes, with s0 and s_final, and is timed" 0 \
  '^device 0: lac fake CPU device, sm_90' \
  'kernel linear_ref: threads 128, smem 65536, block_v 64, io bf16, grid \(2, 6, 1\)' \
  '^  o +\[2, 37, 3, 128\] +rel_l2 [0-9.e+-]+ \(max 3\.0e-03\).*fail 0/28416 .*ok$' \
  '^  s_final +\[2, 3, 128, 128\] .*fail 0/98304 .*ok$' \
  'bench: median [0-9.]+ ms .* GB/s of [0-9.]+ MB moved' \
  '^lac_gpu_fwd: PASS \(1 schedule\)$'

run --kernel linear_ref --shape 1,1,1 --seed 7
expect "one token, one head" 0 'fail 0/128 ' 'PASS'

run --kernel linear_skip --shape 2,5,2
expect "a skipped token and a wrong element are reported" 1 \
  'mismatch o\[b=0, t=1, h=0, j=3\]: gpu .* diff 1\.0' \
  'never written\)' \
  '512 elements of o never written \(still the 0xFF poison\), the first at \[b=0, t=4, h=0, j=0\]' \
  'fail 513/2560' \
  '^lac_gpu_fwd: FAIL \(0 of 1 schedule passed\)$'

run --kernel linear_oob --shape 1,4,1
expect "a write before o is caught by the guard" 1 \
  'fail 0/512 ' 'the kernel wrote outside o: 2 guard bytes changed' '^  FAIL$'

run --kernel linear_fault --shape 1,4,1 --final-state
expect "a fault in the kernel fails it" 1 \
  'FAIL: the kernel faulted: .*cuCtxSynchronize\(\) failed: CUDA_ERROR_ILLEGAL_ADDRESS'

run --shape 1,3,2
expect "every kernel of the PTX, in order; a fault stops the run" 1 \
  'kernel linear_ref:' 'kernel linear_oob:' 'kernel linear_fault:' \
  '^lac_gpu_fwd: FAIL \(1 of 4 schedules passed\)$'

run --kernel linear_skip --shape 1,3,1 --atol 100 --max-rel-l2 10
expect "tolerances from the command line; poison fails whatever they are" 1 \
  '\(atol 1\.00e\+02, rtol 2e-02\)' 'never written'

run --kernel linear_ref --shape 1,8,2 --rtol 0 --atol 0 --max-rel-l2 0
expect "zero tolerance fails a bf16 kernel" 1 'rel_l2 [1-9]' 'FAIL'

run --kernel linear_ref --shape 1,4,1 --device 1
expect "a device that is not there skips" 77 'skipped: no CUDA device 1: the driver sees 1'

ptx=$root/tests/gpu/linear_naive.ptx
run --shape 2,19,3 --final-state --initial-state
expect "linear_naive.ptx (the GPU fixture): three configurations, o in bf16 and f32" 0 \
  'kernel linear_naive_bv64: threads 64, smem 32768, block_v 64, io bf16, grid \(2, 6, 1\)' \
  'kernel linear_naive_bv128: threads 128, smem 65536, block_v 128, io bf16, grid \(1, 6, 1\)' \
  'kernel linear_naive_bv48_f32: threads 64, smem 24576, block_v 48, io f32, grid \(3, 6, 1\)' \
  '\(max 5\.0e-04\).*fail 0/14592 .*ok$' \
  '^lac_gpu_fwd: PASS \(3 schedules\)$'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
