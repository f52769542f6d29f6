#!/usr/bin/env bash
# run.sh: the main job. Builds lac (preset default) and takes every example
# through the whole compiler: `lac check`, the float64 CPU reference on random
# inputs (`lac ref --shape 2,64,4`), `lac compile` to PTX for sm_90a (three
# kernels: the state on chip and the two passes of the sequence split),
# checked by ptxas where the CUDA toolkit is. On a machine whose GPU answers,
# each example's kernels then run against the reference (`lac_gpu_fwd`,
# shape 2,300,4, both schedules, initial and final state) and are timed at
# B=4, T=4096, H=16 (BENCH_SHAPE) with L2 flushed before each launch, and
# the host example (examples/host_jit.c: the runtime's C API, JIT-compiling
# the file in process, tuning for this GPU, checking against the reference)
# runs each one. Without a GPU the host example shows its plain message.
#
#   scripts/run.sh                       all of dsl_examples/*.la
#   SHAPE=1,128,8 scripts/run.sh         another shape for the reference
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shape=${SHAPE:-2,64,4}

echo "run.sh: setup"
bash scripts/setup.sh
echo "run.sh: building preset default"
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc 2>/dev/null || echo 2)"
lac=$root/build/lac

gpu_fwd=$root/build/tests/gpu/lac_gpu_fwd
host=$root/build/examples/lac_host
ptxas=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
bench_shape=${BENCH_SHAPE:-4,4096,16}
ptx_dir=$root/build/ptx
mkdir -p "$ptx_dir"
have_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && gpu=$(nvidia-smi -L 2>/dev/null) && [ -n "$gpu" ]; then
  echo "run.sh: GPU present: ${gpu%%$'\n'*}: compile, run against the reference, time"
  have_gpu=1
else
  echo "run.sh: no GPU (nvidia-smi absent or not answering): check, reference and compile only"
fi

shopt -s nullglob
examples=(dsl_examples/*.la)
if [ ${#examples[@]} -eq 0 ]; then
  echo "run.sh: no dsl_examples/*.la found" >&2
  exit 1
fi

n=${#examples[@]} i=0 ok=0 bad=()
for f in "${examples[@]}"; do
  i=$((i + 1))
  name=$(basename "$f" .la)
  echo
  echo "[$i/$n] $name: lac check $f"
  if ! "$lac" check "$f"; then
    echo "[$i/$n] $name: FAILED (lac check)"
    bad+=("$name")
    continue
  fi
  echo "[$i/$n] $name: lac ref $f --shape $shape"
  if ! "$lac" ref "$f" --shape "$shape"; then
    echo "[$i/$n] $name: FAILED (lac ref)"
    bad+=("$name")
    continue
  fi
  ptx=$ptx_dir/$name.ptx
  echo "[$i/$n] $name: lac compile $f -o $ptx --arch sm_90a"
  if ! "$lac" compile "$f" -o "$ptx" --arch sm_90a; then
    echo "[$i/$n] $name: FAILED (lac compile)"
    bad+=("$name")
    continue
  fi
  grep '^// lac-kernel' "$ptx" | sed 's/^/    /'
  if [ -x "$ptxas" ]; then
    if ! info=$("$ptxas" -arch=sm_90a -v "$ptx" -o "$ptx_dir/$name.cubin" 2>&1); then
      echo "[$i/$n] $name: FAILED (ptxas)"; printf '%s\n' "$info" | head -5
      bad+=("$name")
      continue
    fi
    echo "    ptxas: registers $(printf '%s\n' "$info" | sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' | tr '\n' ' ')"
  fi
  if [ "$have_gpu" -eq 1 ]; then
    echo "[$i/$n] $name: lac_gpu_fwd against the reference, shape 2,300,4"
    if ! "$gpu_fwd" "$f" --ptx "$ptx" --shape 2,300,4 --segments 3 --initial-state --final-state; then
      echo "[$i/$n] $name: FAILED (the kernels against the reference)"
      bad+=("$name")
      continue
    fi
    echo "[$i/$n] $name: timing at $bench_shape"
    "$gpu_fwd" "$f" --ptx "$ptx" --shape "$bench_shape" --no-check --bench 10 | grep -E 'schedule|bench: median' || true
    echo "[$i/$n] $name: the host example (JIT, tuning, check), shape 2,300,4"
    if ! "$host" "$f" --shape 2,300,4; then
      echo "[$i/$n] $name: FAILED (the host example)"
      bad+=("$name")
      continue
    fi
  fi
  echo "[$i/$n] $name: ok"
  ok=$((ok + 1))
done

if [ "$have_gpu" -eq 0 ] && [ -x "$host" ]; then
  echo
  echo "run.sh: the host example without a GPU (it must say so plainly and exit 77):"
  set +e
  "$host" dsl_examples/linear.la
  rc=$?
  set -e
  if [ "$rc" -ne 77 ]; then
    echo "run.sh: FAILED: the host example exited $rc without a GPU"
    bad+=("host_example")
  fi
fi

echo
if [ ${#bad[@]} -ne 0 ]; then
  echo "run.sh: $ok of $n examples ok; failed: ${bad[*]}"
  exit 1
fi
echo "run.sh: all $n examples checked and run on the CPU reference (shape $shape)"
