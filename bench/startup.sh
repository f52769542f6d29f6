#!/usr/bin/env bash
# startup.sh BUILD OUT.csv [SHAPE]: the runtime's start-up cost for every
# example through the host example (examples/host_jit.c), at SHAPE (default
# the benchmark's 4,4096,16): a cold start (empty lac cache and the driver's
# own JIT cache disabled: compile, JIT, tune, first launch) then a warm one
# (a new process: tuning database, cubin cache, first launch). The times are
# lac's: loading the variant plus the first lac_forward to completion; the
# CUDA context's creation is in its own column.
set -uo pipefail
build=$1 csv=$2 shape=${3:-4,4096,16}
root=$(cd "$(dirname "$0")/.." && pwd)
export LD_LIBRARY_PATH=$build:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "example,shape,start,lac_ms,load_ms,first_forward_ms,cuda_context_ms,config" > "$csv"
for f in "$root"/dsl_examples/*.la; do
  name=$(basename "$f" .la)
  export LAC_CACHE_DIR=$tmp/$name
  for start in cold warm; do
    CUDA_CACHE_DISABLE=1 "$build/examples/lac_host" "$f" --shape "$shape" --no-check --runs 3 > "$tmp/out" 2>&1
    line=$(grep '^first launch' "$tmp/out")
    row=$(sed -n 's/^first launch: \([0-9.]*\) ms of lac (load \([0-9.]*\) + first forward \([0-9.]*\); the CUDA context \([0-9.]*\) more); configuration \(.*\) (.*)$/\1,\2,\3,\4,\5/p' <<< "$line")
    [ -n "$row" ] || { echo "$name $start: FAILED"; tail -3 "$tmp/out"; continue; }
    echo "$name,$shape,$start,$row" >> "$csv"
    echo "$name $start: $line"
  done
done
