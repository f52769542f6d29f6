#!/usr/bin/env bash
# device_check.sh BUILD OUT [--bench]: on the GPU machine, what `ctest -L gpu`
# runs (from a build folder carried there as BUILD, e.g. .dev) plus the
# runtime's measurements, with every log under OUT:
#   gpu.fwd, gpu.harness_naive  the kernels against the float64 reference
#   gpu.host                    the host example on every example, cold and warm
#   python.gpu                  the Python package's GPU tests (torch)
#   bench/tune_check.sh         cold/warm start at B4 T4096 H16 and the tuner
#                               against timing every configuration
# --bench: instead of tune_check, lac's forward benchmark at the issue's
# shapes (bench/run_bench.sh, no fla) in what is left of a 10-minute call.
# --check-only: neither (the correctness part alone, about 90 s).
set -uo pipefail
build=$(cd "$1" && pwd) out=$2 mode=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
export LD_LIBRARY_PATH=$build:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mkdir -p "$out"
cd "$root"
nvidia-smi -L > "$out/gpu.txt" 2>&1
t0=$SECONDS
( bash tests/gpu/run_fwd.sh "$build/lac" "$build/tests/gpu/lac_gpu_fwd" "$root" > "$out/fwd.log" 2>&1
  echo "exit $?" >> "$out/fwd.log" ) &
fwd=$!
"$build/tests/gpu/lac_gpu_fwd" dsl_examples/linear.la --ptx tests/gpu/linear_naive.ptx --shape 2,300,4 \
  --initial-state --final-state > "$out/naive.log" 2>&1; echo "exit $?" >> "$out/naive.log"
LAC_VERBOSE=1 bash tests/runtime/gpu_host.sh "$build/examples/lac_host" "$root" 2,300,4 "$out/host.csv" > "$out/host.log" 2>&1
echo "exit $? after $((SECONDS - t0)) s" >> "$out/host.log"
( cd python/tests && LAC_LIBRARY=$build/liblac.so.0 LAC_CACHE_DIR=$out/pycache timeout 240 python3 -m unittest -v test_lac.CudaTest ) \
  > "$out/python.log" 2>&1; echo "exit $? after $((SECONDS - t0)) s" >> "$out/python.log"
wait $fwd
echo "fwd done after $((SECONDS - t0)) s" >> "$out/fwd.log"
if [ "$mode" = --check-only ]; then
  echo "device_check done after $((SECONDS - t0)) s"
  exit 0
fi
if [ "$mode" = --bench ]; then
  rm -rf "$out/pycache"
  left=$((560 - SECONDS))
  echo "correctness done after $((SECONDS - t0)) s; the benchmark gets $left s"
  tail -2 "$out/fwd.log"; tail -1 "$out/naive.log"; tail -2 "$out/host.log"; tail -4 "$out/python.log"
  [ "$left" -gt 30 ] && timeout "$left" bash bench/run_bench.sh "$build" "$out/bench.csv" > "$out/bench.log" 2>&1
  echo "device_check done after $((SECONDS - t0)) s"
  exit 0
fi
for c in "linear 4,4096,16" "gla 4,4096,16" "mamba2 4,4096,16"; do
  timeout 150 bash bench/tune_check.sh "$build" $c "$out"
done
echo "device_check done after $((SECONDS - t0)) s"
