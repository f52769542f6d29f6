#!/usr/bin/env bash
# check_ptx.sh LAC REPO_ROOT [--defaults]: `lac compile` for every example of
# dsl_examples/ at every configuration of its tuning space (the cartesian
# product of the sets `lac dump --ast` prints; --defaults: the default
# configuration only), for sm_80 and sm_90a. Each PTX holds three kernels
# (the state on chip, the split's two passes); ptxas must accept each with no
# spills, and the PTX must use the tensor cores (mma.sync or, on sm_90a,
# wgmma; ldmatrix) and cp.async; wgmma must appear on sm_90a only, and there
# in the configurations whose output role is a warpgroup (four output warps,
# block_v 64, q, k and v used as they are: linear, linear_norm, retnet,
# simple_gla and lightning at warps 8, block_v 64), and ptxas must not have to insert a
# wait between warpgroup products (its C7517 note: the products would run
# one after the other) nor note any other "Potential Performance Loss" of
# wgmma (C7520: serialized for a divergent path under a pending product,
# which a scan in a branch caused). A configuration that does not fit a
# target's shared memory must be refused by lac with that reason (the
# autotuner prunes it); every example must compile for each target at some
# configuration. In the full kernel on wgmma a per-token decay's scan must run
# under the state products (scan_under_products). Skips (77) without ptxas.
set -uo pipefail
lac=$1
root=$2
mode=${3:-}
ptxas=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
if [ ! -x "$ptxas" ]; then
  echo "SKIP: no ptxas (install the CUDA toolkit)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)

# configs NAME: one "--set k=v ..." line per configuration of the tuning space
# (--defaults: one empty line, the default configuration).

# In a full kernel on wgmma with a per-token decay's scan (its shfl.sync.up),
# the scan of the next chunk must run while the state products are pending:
# a shfl.sync.up after a wgmma.commit_group and before the next wait_group.
# True where the kernel has no such scan. Asked only of the examples with a
# per-token decay (GLA's gla.prep shuffles too, before the products).
scan_under_products() {
  awk -v k="$2" '
    $0 ~ "^.visible .entry " k "\\(" { on = 1; next }
    on && /^.visible .entry / { on = 0 }
    !on { next }
    /wgmma.commit_group/ { pend = 1 }
    /wgmma.wait_group/ { pend = 0 }
    /shfl.sync.up/ { scans = 1; if (pend) under = 1 }
    /wgmma.mma_async/ { wg = 1 }
    END { exit (wg && scans && !under) ? 1 : 0 }' "$1"
}

configs() {
  local f=$root/dsl_examples/$1.la sets=() line k vals
  while IFS= read -r line; do
    k=$(sed -E 's/^  ([a-z_]+) = ([0-9]+) in \{(.*)\}$/\1/' <<< "$line")
    if [ "$mode" = --defaults ]; then
      vals=$(sed -E 's/^  ([a-z_]+) = ([0-9]+) in \{(.*)\}$/\2/' <<< "$line")
    else
      vals=$(sed -E 's/^  ([a-z_]+) = ([0-9]+) in \{(.*)\}$/\3/' <<< "$line" | tr -d ' ' | tr ',' ' ')
    fi
    # A setting without a tuning set keeps its default (written or not).
    [ "$(wc -w <<< "$vals")" -gt 1 ] || [ "$mode" = --defaults ] || continue
    [ "$mode" = --defaults ] && continue
    sets+=("$k:$vals")
  done < <("$lac" dump --ast "$f" | grep -E '^  (chunk|subchunk|block_k|block_v|warps|stages) = ')
  local out=("")
  for s in "${sets[@]}"; do
    local next=()
    for prefix in "${out[@]}"; do
      for v in ${s#*:}; do next+=("$prefix --set ${s%%:*}=$v"); done
    done
    out=("${next[@]}")
  done
  printf '%s\n' "${out[@]}"
}

# one NAME ARCH SETS: compile and assemble; prints one PASS/FAIL/PRUNED line.
one() {
  local name=$1 arch=$2 sets=$3 id
  id=$(echo "$name $arch $sets" | md5sum | cut -c1-12)
  local ptx=$tmp/$id.ptx err=$tmp/$id.err
  # shellcheck disable=SC2086
  if ! "$lac" compile "$root/dsl_examples/$name.la" -o "$ptx" --arch "$arch" $sets 2> "$err"; then
    if grep -q "bytes of shared memory per thread block; $arch allows" "$err"; then
      echo "PRUNED: $name $arch [$sets]: does not fit $arch's shared memory"
    else
      echo "FAIL: $name $arch [$sets]: lac compile: $(head -1 "$err")"
    fi
    return
  fi
  local info
  if ! info=$("$ptxas" -arch="$arch" -v "$ptx" -o "$tmp/$id.cubin" 2>&1); then
    echo "FAIL: $name $arch [$sets]: ptxas rejected it: $(printf '%s\n' "$info" | head -3)"
    return
  fi
  local kernels regs
  kernels=$(grep -c '^// lac-kernel name=lac_'"$name"'_fwd' "$ptx")
  regs=$(printf '%s\n' "$info" | sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' | tr '\n' ' ')
  if printf '%s\n' "$info" | grep -q ' [1-9][0-9]* bytes spill'; then
    echo "FAIL: $name $arch [$sets]: spills: $(printf '%s\n' "$info" | grep -B3 ' [1-9][0-9]* bytes spill' | grep -o "entry function '[a-z_0-9]*'" | tr '\n' ' ')"
  elif printf '%s\n' "$info" | grep -q 'C7517'; then
    echo "FAIL: $name $arch [$sets]: ptxas injected a warpgroup wait: $(printf '%s\n' "$info" | grep 'C7517' | grep -o "function '[a-z_0-9]*'" | tr '\n' ' ')"
  elif printf '%s\n' "$info" | grep -q 'Potential Performance Loss'; then
    echo "FAIL: $name $arch [$sets]: ptxas: $(printf '%s\n' "$info" | grep -m1 'Potential Performance Loss' | sed 's/^ptxas info *: //')"
  elif [ "$kernels" -ne 3 ]; then
    echo "FAIL: $name $arch [$sets]: $kernels lac-kernel lines, expected 3 (full, split_state, split_out)"
  elif ! grep -q 'mma.sync.aligned.m16n8k16.row.col.f32.\(bf16.bf16\|f16.f16\).f32\|wgmma.mma_async.sync.aligned' "$ptx"; then
    echo "FAIL: $name $arch [$sets]: no mma.sync or wgmma in the PTX"
  elif [ "$arch" != sm_90a ] && grep -q 'wgmma' "$ptx"; then
    echo "FAIL: $name $arch [$sets]: wgmma in PTX for $arch"
  elif grep -q '^ *decay *per_token' "$root/dsl_examples/$name.la" && ! scan_under_products "$ptx" "lac_${name}_fwd"; then
    echo "FAIL: $name $arch [$sets]: the per-token decay's scan waits for the state products (its shfl.sync.up is not between a wgmma commit and the wait)"
  elif ! grep -q 'ldmatrix.sync.aligned' "$ptx" || ! grep -q 'cp.async.cg.shared.global' "$ptx"; then
    echo "FAIL: $name $arch [$sets]: no ldmatrix or cp.async in the PTX"
  else
    local wg=""
    grep -q 'wgmma.mma_async' "$ptx" && wg=", wgmma"
    echo "PASS: $name $arch [$sets]: registers $regs, no spills$wg"
  fi
}
export -f one scan_under_products
export lac root tmp ptxas

list=$tmp/list
for f in "$root"/dsl_examples/*.la; do
  name=$(basename "$f" .la)
  while IFS= read -r sets; do
    for arch in sm_80 sm_90a; do printf '%s\t%s\t%s\n' "$name" "$arch" "$sets"; done
  done < <(configs "$name")
done > "$list"
tr '\n' '\0' < "$list" | xargs -0 -P "$jobs" -I{} bash -c 'IFS=$'"'"'\t'"'"' read -r n a s <<< "{}"; one "$n" "$a" "$s"' > "$tmp/results"
sort "$tmp/results"
pass=$(grep -c '^PASS' "$tmp/results")
fail=$(grep -c '^FAIL' "$tmp/results")
pruned=$(grep -c '^PRUNED' "$tmp/results")
# Every example compiles for each target at some configuration.
for f in "$root"/dsl_examples/*.la; do
  name=$(basename "$f" .la)
  for arch in sm_80 sm_90a; do
    if ! grep -q "^PASS: $name $arch " "$tmp/results"; then
      echo "FAIL: $name $arch: no configuration compiles"
      fail=$((fail + 1))
    fi
  done
done
# The warpgroup output role where it applies (not with --defaults, whose
# configuration may differ).
if [ "$mode" != --defaults ]; then
  for name in linear linear_norm retnet simple_gla lightning; do
    # (warps = 8 is their only value, so not among the sets)
    if ! grep "^PASS: $name sm_90a " "$tmp/results" | grep 'block_v=64' | grep -q ', wgmma$'; then
      echo "FAIL: $name sm_90a: its configurations at block_v 64 do not use wgmma"
      fail=$((fail + 1))
    fi
  done
fi
echo "$pass passed, $fail failed, $pruned pruned (shared memory)"
[ "$fail" -eq 0 ]
