#!/usr/bin/env bash
# check_no_driver.sh LAC_GPU_FWD REPO_ROOT [STUB_LIBCUDA]: lac_gpu_fwd without
# a usable CUDA driver skips (exit 77, ctest's SKIP_RETURN_CODE) with a
# message that says why, after checking what it can check on the CPU.
#
#   1. LAC_CUDA_DRIVER pointing nowhere: 77, "no CUDA driver (PATH not found)"
#   2. the toolkit's stub libcuda, when given: every symbol is found, cuInit
#      answers CUDA_ERROR_STUB_LIBRARY: 77, "no CUDA driver"
#   3. as the machine is: 77 and "no CUDA driver (libcuda.so.1 not found)" on
#      a machine without a driver; on one with a GPU, the stub kernel writes
#      nothing, so 1 and "never written"; with a driver but no GPU, 77
#   4. errors found before the driver is needed are errors (2) everywhere: a
#      kernel for other dimensions, a PTX without a lac-kernel comment
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 LAC_GPU_FWD REPO_ROOT [STUB_LIBCUDA]" >&2
  exit 2
fi
bin=$1
root=$2
stub=${3:-}
la=$root/dsl_examples/linear.la
ptx=$root/tests/gpu/linear_stub.ptx

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lac-gpu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
passed=0
failed=0
rc=0

run() {
  "$@" >"$out" 2>&1
  rc=$?
}

# expect NAME CODE PATTERN: the last run exited with CODE and printed PATTERN.
expect() {
  if [ "$rc" -eq "$2" ] && grep -Eq -- "$3" "$out"; then
    echo "PASS: $1"
    passed=$((passed + 1))
  else
    echo "FAIL: $1: exit $rc (expected $2), /$3/ $(grep -Eq -- "$3" "$out" && echo found || echo 'not found')"
    sed 's/^/      | /' "$out"
    failed=$((failed + 1))
  fi
}

run env LAC_CUDA_DRIVER=/nonexistent/libcuda.so.1 "$bin" "$la" --ptx "$ptx" --shape 1,16,1
expect "no driver at LAC_CUDA_DRIVER" 77 'no CUDA driver \(/nonexistent/libcuda\.so\.1 not found\)'

if [ -n "$stub" ] && [ -f "$stub" ]; then
  run env LAC_CUDA_DRIVER="$stub" "$bin" "$la" --ptx "$ptx" --shape 1,16,1
  expect "the toolkit's stub library" 77 'no CUDA driver.*cuInit\(0\) failed: CUDA_ERROR_STUB_LIBRARY'
else
  echo "SKIP: the toolkit's stub library (none given)"
fi

run "$bin" "$la" --ptx "$ptx" --shape 1,16,1
case $rc in
  77) expect "no driver here" 77 'no CUDA driver \(libcuda\.so\.1 not found\)|no CUDA device' ;;
  *) expect "a GPU here: the stub kernel leaves o unwritten" 1 'never written' ;;
esac

sed 's/dk=128 dv=128/dk=64 dv=128/' "$ptx" >"$tmp/k64.ptx"
run env LAC_CUDA_DRIVER=/nonexistent "$bin" "$la" --ptx "$tmp/k64.ptx" --shape 1,16,1
expect "a kernel for other dimensions" 2 'kernel linear_stub is for dk=64 dv=128, but attention linear has 128 key features'

grep -v 'lac-kernel' "$ptx" >"$tmp/bare.ptx"
run env LAC_CUDA_DRIVER=/nonexistent "$bin" "$la" --ptx "$tmp/bare.ptx" --shape 1,16,1
expect "a PTX without a lac-kernel comment" 2 'no .// lac-kernel name=\.\.\.'

run env LAC_CUDA_DRIVER=/nonexistent "$bin" "$root/dsl_examples/gla.la" --ptx "$ptx" --shape 1,16,1
expect "a kernel with too few parameters for the variant" 2 'kernel linear_stub has 9 parameters; the ABI of a kernel for a variant with 4 inputs has 10'

run "$bin" "$la" --ptx "$ptx"
expect "usage: no shape" 2 'needs FILE.la, --ptx FILE.ptx and --shape'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
