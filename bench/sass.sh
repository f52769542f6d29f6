#!/usr/bin/env bash
# sass.sh LAC FILE.la [lac compile options...]: the SASS of FILE's kernels
# without a GPU, for looking at what ptxas made of the PTX (injected waits,
# the instruction mix of a role). Compiles for sm_90a (or the --arch given),
# assembles with the toolkit's ptxas and disassembles with nvdisasm (the
# `nvidia-cuda-nvdisasm` wheel from PyPI, fetched once into
# ~/.cache/lac-tools when the toolkit has none). Prints, per kernel, the
# static count of each opcode (most frequent first) and writes the listing
# beside it as /tmp/lac-sass/KERNEL.sass, then each loop of 100 or more
# instructions (the roles' chunk loops) with its size and opcode counts.
set -euo pipefail
lac=$1
src=$2
shift 2
arch=sm_90a
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[$i]}" = --arch ] && arch=${args[$((i + 1))]}; done
[[ " ${args[*]} " == *" --arch "* ]] || args+=(--arch "$arch")
ptxas=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
nvdisasm=$(command -v nvdisasm || ls /usr/local/cuda/bin/nvdisasm 2>/dev/null || true)
if [ -z "$nvdisasm" ]; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/lac-tools
  nvdisasm=$(find "$cache" -name nvdisasm -type f 2>/dev/null | head -1 || true)
  if [ -z "$nvdisasm" ]; then
    mkdir -p "$cache"
    echo "sass.sh: fetching nvdisasm (pip download nvidia-cuda-nvdisasm) into $cache" >&2
    python3 -m pip download -q --no-deps nvidia-cuda-nvdisasm -d "$cache" >&2
    python3 -m zipfile -e "$cache"/nvidia_cuda_nvdisasm-*.whl "$cache/x" >&2
    nvdisasm=$(find "$cache" -name nvdisasm -type f | head -1)
    chmod +x "$nvdisasm"
  fi
fi
out=/tmp/lac-sass
mkdir -p "$out"
"$lac" compile "$src" -o "$out/k.ptx" "${args[@]}"
"$ptxas" -arch="$arch" -v "$out/k.ptx" -o "$out/k.cubin" 2>&1 | grep -E "C7517|Used|spill" >&2 || true
"$nvdisasm" -c "$out/k.cubin" > "$out/all.sass"
# one listing per kernel: from its .text section's label to the next
awk -v dir="$out" '/^\.text\.[a-z0-9_]*:/ { f = dir "/" substr($1, 7, length($1) - 7) ".sass" } f { print > f }' "$out/all.sass"
for k in $(sed -n 's/^\/\/ lac-kernel name=\([a-z0-9_]*\) .*/\1/p' "$out/k.ptx"); do
  [ -f "$out/$k.sass" ] || { echo "$k: not in the listing"; continue; }
  n=$(grep -c '/\*[0-9a-f]\{4,\}\*/' "$out/$k.sass" || true)
  echo "$k: $n instructions ($out/$k.sass)"
  sed -n 's/^ *\/\*[0-9a-f]*\*\/ *\(@!\?U\?P[0-9T] *\)\?\([A-Z0-9_]*\).*/\2/p' "$out/$k.sass" | sort | uniq -c | sort -rn | head -16 |
    awk '{printf "  %-10s %d\n", $2, $1}'
  # The loops (a label and the last branch back to it) of 100 instructions
  # or more: the roles' chunk loops, with their opcode counts (one trip).
  awk '
    /^\.L_x_[0-9]+:/ { lbl = substr($1, 1, length($1) - 1); at[lbl] = n; next }
    /\/\*[0-9a-f][0-9a-f][0-9a-f][0-9a-f]+\*\// {
      op = $0; sub(/^ *\/\*[0-9a-f]*\*\/ */, "", op); sub(/^@!?U?P[0-9T] */, "", op)
      split(op, w, /[ .;]/); ops[n++] = w[1]
      if (match($0, /BRA `\(\.L_x_[0-9]+\)/)) {
        t = substr($0, RSTART + 6, RLENGTH - 7)
        if (t in at && n - at[t] >= 100) { lo[t] = at[t]; hi[t] = n }
      }
    }
    END {
      for (t in lo) {
        delete c; line = ""
        for (i = lo[t]; i < hi[t]; i++) c[ops[i]]++
        m = 0
        for (o in c) { ord[m++] = o }
        for (i = 0; i < m; i++) for (j = i + 1; j < m; j++) if (c[ord[j]] > c[ord[i]]) { x = ord[i]; ord[i] = ord[j]; ord[j] = x }
        for (i = 0; i < m && i < 10; i++) line = line sprintf(" %s %d", ord[i], c[ord[i]])
        printf "  loop at instruction %d: %d instructions:%s\n", lo[t], hi[t] - lo[t], line
      }
    }' "$out/$k.sass" | sort -t: -k1,1V
done
