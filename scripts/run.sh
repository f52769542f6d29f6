#!/usr/bin/env bash
# run.sh: the main job. Builds lac (preset default) and takes every example
# through what the compiler does today: `lac check`, then the float64 CPU
# reference on random inputs (`lac ref --shape 2,64,4`), printing its summary.
#
# The GPU stages (tile IR -> LLVM -> PTX -> launch, checked against this
# reference) arrive with the code generator (issue 3); until then this script
# does no GPU work, even on a machine with a GPU, and says so.
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

if command -v nvidia-smi >/dev/null 2>&1 && gpu=$(nvidia-smi -L 2>/dev/null) && [ -n "$gpu" ]; then
  echo "run.sh: GPU present: ${gpu%%$'\n'*}"
  echo "run.sh: the GPU stages (code generation, launch, comparison with the reference)"
  echo "run.sh: arrive with the code generator (issue 3); running the CPU stages only"
else
  echo "run.sh: no GPU (nvidia-smi absent or not answering); running the CPU stages"
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
  echo "[$i/$n] $name: ok"
  ok=$((ok + 1))
done

echo
if [ ${#bad[@]} -ne 0 ]; then
  echo "run.sh: $ok of $n examples ok; failed: ${bad[*]}"
  exit 1
fi
echo "run.sh: all $n examples checked and run on the CPU reference (shape $shape)"
