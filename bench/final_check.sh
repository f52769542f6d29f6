#!/usr/bin/env bash
# final_check.sh BUILD OUT: what `ctest -L gpu` runs (gpu.fwd, gpu.harness_naive,
# gpu.host, python.gpu; as scripts/device_check.sh) and then lac's forward
# benchmark at the issue's shapes (bench/run_bench.sh, no fla), inside one
# device call's 10 minutes: the benchmark gets what time is left.
set -uo pipefail
build=$(cd "$1" && pwd) out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
export LD_LIBRARY_PATH=$build:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mkdir -p "$out"
cd "$root"
nvidia-smi -L > "$out/gpu.txt" 2>&1
t0=$SECONDS
( bash tests/gpu/run_fwd.sh "$build/lac" "$build/tests/gpu/lac_gpu_fwd" "$root" > "$out/fwd.log" 2>&1
  echo "exit $? after $((SECONDS - t0)) s" >> "$out/fwd.log" ) &
fwd=$!
"$build/tests/gpu/lac_gpu_fwd" dsl_examples/linear.la --ptx tests/gpu/linear_naive.ptx --shape 2,300,4 \
  --initial-state --final-state > "$out/naive.log" 2>&1; echo "exit $?" >> "$out/naive.log"
bash tests/runtime/gpu_host.sh "$build/examples/lac_host" "$root" 2,300,4 "$out/host.csv" > "$out/host.log" 2>&1
echo "exit $? after $((SECONDS - t0)) s" >> "$out/host.log"
( cd python/tests && LAC_LIBRARY=$build/liblac.so.0 LAC_CACHE_DIR=$out/pycache timeout 240 python3 -m unittest -v test_lac.CudaTest ) \
  > "$out/python.log" 2>&1; echo "exit $? after $((SECONDS - t0)) s" >> "$out/python.log"
rm -rf "$out/pycache"
wait $fwd
left=$((560 - SECONDS))
echo "correctness done after $((SECONDS - t0)) s; benchmark gets $left s"
tail -1 "$out/fwd.log"; tail -1 "$out/naive.log"; tail -2 "$out/host.log"; tail -4 "$out/python.log"
[ "$left" -gt 30 ] && timeout "$left" bash bench/run_bench.sh "$build" "$out/bench.csv" > "$out/bench.log" 2>&1
echo "all done after $((SECONDS - t0)) s"
