#!/usr/bin/env bash
# gpu_host.sh LAC_HOST REPO [SHAPE] [OUT.csv]: the host example (JIT through
# the public C API, tuning, the check against the float64 reference) on
# every example of dsl_examples/, first with an empty cache (a cold start:
# compile and tune), then again (a warm start: cubin cache and tuning
# database). Prints and optionally writes the time to the first launch of
# each. Exit 77 without a GPU.
set -uo pipefail
host=$1 root=$2 shape=${3:-2,300,4} csv=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LAC_CACHE_DIR=$tmp/cache
pass=0 fail=0
[ -n "$csv" ] && echo "example,shape,start,lac_first_launch_ms,cuda_context_ms,config,rel_l2_o,forward_ms" > "$csv"
for f in "$root"/dsl_examples/*.la; do
  name=$(basename "$f" .la)
  for start in cold warm; do
    LAC_VERBOSE=${LAC_VERBOSE:-0} "$host" "$f" --shape "$shape" --runs 10 > "$tmp/out" 2>&1
    rc=$?
    if [ $rc -eq 77 ]; then cat "$tmp/out"; echo "SKIP: no GPU"; exit 77; fi
    first=$(sed -n 's/^first launch: \([0-9.]*\) ms of lac.*/\1/p' "$tmp/out")
    withc=$(sed -n 's/^first launch: .*; the CUDA context \([0-9.]*\) more.*/\1/p' "$tmp/out")
    cfg=$(sed -n 's/^first launch: .*; configuration \(.*\) (.*)$/\1/p' "$tmp/out")
    err=$(sed -n 's/.*rel L2 of o \([0-9.e+-]*\),.*/\1/p' "$tmp/out")
    fwd=$(sed -n 's/^forward: median \([0-9.]*\) ms.*/\1/p' "$tmp/out")
    if [ $rc -eq 0 ]; then
      pass=$((pass + 1))
      [ "${LAC_VERBOSE:-0}" != 0 ] && grep '^lac: .*tuning database' "$tmp/out"
      echo "PASS: $name $start: first launch $first ms (+ $withc ms for the CUDA context), o rel L2 $err, forward $fwd ms, $cfg"
    else
      fail=$((fail + 1))
      echo "FAIL: $name $start (exit $rc):"
      tail -8 "$tmp/out"
    fi
    [ -n "$csv" ] && echo "$name,$shape,$start,$first,$withc,$cfg,$err,$fwd" >> "$csv"
  done
done
echo "gpu_host: $pass passed, $fail failed"
[ $fail -eq 0 ]
