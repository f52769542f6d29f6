#!/usr/bin/env bash
# tune_check.sh BUILD NAME B,T,H OUT_DIR: is the tuner's choice within 5% of
# the best configuration? `lac tune --force` picks one; then every
# configuration of the tuning space is compiled (`lac compile
# --all-configs`) and timed again, independently, by lac_gpu_fwd --bench
# (both schedules, L2 flushed, median of 30), and the choice's time is
# compared with the best. Also times the cold start (empty cache: compile +
# tune + first launch) and the warm start of the host example.
set -uo pipefail
build=$1 name=$2 shape=$3 out=$4
root=$(cd "$(dirname "$0")/.." && pwd)
export LD_LIBRARY_PATH=$build:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$root/dsl_examples/$name.la
export LAC_CACHE_DIR=$tmp/cache
"$build/examples/lac_host" "$src" --shape "$shape" --no-check --runs 5 > "$tmp/cold" 2>&1
"$build/examples/lac_host" "$src" --shape "$shape" --no-check --runs 5 > "$tmp/warm" 2>&1
echo "$name $shape cold: $(grep '^first launch' "$tmp/cold")" | tee -a "$out/tune_check.txt"
echo "$name $shape warm: $(grep '^first launch' "$tmp/warm")" | tee -a "$out/tune_check.txt"
"$build/lac" tune "$src" --shape "$shape" --force > "$tmp/tune" 2>&1
cat "$tmp/tune" >> "$out/tune_check.txt"
chosen=$(sed -n 's/.*bf16 on .*: \(chunk=.*schedule=[a-z]*\) (.*/\1/p' "$tmp/tune")
"$build/lac" compile "$src" --all-configs -o "$tmp/ptx" --arch sm_90a > /dev/null
best="" best_ms=0 chosen_ms=""
for ptx in "$tmp"/ptx/*.ptx; do
  for sched in full split; do
    "$build/tests/gpu/lac_gpu_fwd" "$src" --ptx "$ptx" --shape "$shape" --no-check --bench 30 --schedule "$sched" \
      > "$tmp/b" 2>&1 || continue
    ms=$(sed -n 's/.*bench: median \([0-9.]*\) ms.*/\1/p' "$tmp/b" | head -1)
    [ -n "$ms" ] || continue
    cfg=$(sed -n 's/^\/\/ lac-kernel name=[a-z0-9_]*fwd threads=.* block_v=\([0-9]*\) .* chunk=\([0-9]*\) warps=\([0-9]*\) stages=\([0-9]*\)$/block_v=\1 warps=\3 stages=\4/p' "$ptx" | head -1)
    echo "  $(basename "$ptx") $sched: $ms ms" >> "$out/tune_check.txt"
    if [ -z "$best" ] || awk "BEGIN{exit !($ms < $best_ms)}"; then best="$cfg schedule=$sched"; best_ms=$ms; fi
    case "$chosen" in *"$cfg schedule=$sched") chosen_ms=$ms ;; esac
  done
done
ratio=$(awk "BEGIN{ if ($best_ms > 0 && \"$chosen_ms\" != \"\") printf \"%.3f\", $chosen_ms / $best_ms; else print \"?\" }")
echo "$name $shape: tuner chose [$chosen] = $chosen_ms ms; best by lac_gpu_fwd [$best] = $best_ms ms; ratio $ratio" \
  | tee -a "$out/tune_check.txt"
