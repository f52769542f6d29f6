#!/usr/bin/env bash
# check_ptx.sh LAC REPO_ROOT: `lac compile` for every example the code
# generator supports, for sm_80 and sm_90a; ptxas must accept each kernel with
# no spills, and the PTX must use the tensor cores (mma.sync, ldmatrix) and
# asynchronous copies. Examples it does not support yet must fail with a
# located "does not support" error (never a crash). Skips (77) without ptxas.
set -uo pipefail
lac=$1
root=$2
ptxas=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
if [ ! -x "$ptxas" ]; then
  echo "SKIP: no ptxas (install the CUDA toolkit)"
  exit 77
fi
supported="linear retnet lightning simple_gla"
unsupported="linear_elu gla based cosformer hedgehog mamba2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
for name in $supported; do
  for arch in sm_80 sm_90a; do
    out=$tmp/$name.$arch.ptx
    if ! "$lac" compile "$root/dsl_examples/$name.la" -o "$out" --arch "$arch" 2>"$tmp/err"; then
      bad "$name $arch: lac compile failed: $(cat "$tmp/err")"
      continue
    fi
    info=$("$ptxas" -arch="$arch" -v "$out" -o "$tmp/out.cubin" 2>&1) || { bad "$name $arch: ptxas rejected it: $info"; continue; }
    regs=$(printf '%s\n' "$info" | sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' | head -1)
    if printf '%s\n' "$info" | grep -q ' [1-9][0-9]* bytes spill'; then
      bad "$name $arch: spills: $(printf '%s\n' "$info" | grep spill)"
    elif ! grep -q 'mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32' "$out"; then
      bad "$name $arch: no mma.sync in the PTX"
    elif ! grep -q 'ldmatrix.sync.aligned' "$out" || ! grep -q 'cp.async.cg.shared.global' "$out"; then
      bad "$name $arch: no ldmatrix or cp.async in the PTX"
    elif ! head -1 "$out" | grep -q '^// lac-kernel name=lac_'"$name"'_fwd threads=128 smem=[0-9]* '; then
      bad "$name $arch: the lac-kernel line is missing or malformed: $(head -1 "$out")"
    else
      ok "$name $arch: $regs registers, no spills, $(grep -c mma.sync "$out") mma.sync"
    fi
  done
done
for name in $unsupported; do
  "$lac" compile "$root/dsl_examples/$name.la" -o "$tmp/x.ptx" 2>"$tmp/err"
  rc=$?
  if [ "$rc" -eq 1 ] && grep -q "^dsl_examples/$name.la:[0-9]*:[0-9]*: error: the code generator does not support\|$name.la:[0-9]*:[0-9]*: error: the code generator" "$tmp/err"; then
    ok "$name: not supported yet, said plainly ($(head -1 "$tmp/err" | cut -d: -f4- | cut -c1-70)...)"
  else
    bad "$name: expected exit 1 with a located 'the code generator does not support' error, got $rc: $(head -3 "$tmp/err")"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
