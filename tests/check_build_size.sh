#!/usr/bin/env bash
# check_build_size.sh BUILD_DIR MAX_MIB: the build folder must travel to the
# GPU machine, which takes at most a few tens of MiB. Fails when `du -sm`
# says BUILD_DIR is larger than MAX_MIB, and shows what takes the room.
set -euo pipefail

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 BUILD_DIR MAX_MIB" >&2
  exit 2
fi
dir=$1
max=$2
if [ ! -d "$dir" ]; then
  echo "FAIL: $dir is not a folder"
  exit 1
fi

size=$(du -sm "$dir" | cut -f1)
echo "build folder $dir: $size MiB (limit $max MiB)"
echo "largest files:"
find "$dir" -type f -printf '%s\t%P\n' | sort -rn | head -n 10 |
  awk -F'\t' '{ printf "  %8.1f MiB  %s\n", $1 / 1048576, $2 }'

if [ "$size" -gt "$max" ]; then
  echo "FAIL: $size MiB is over the limit of $max MiB"
  exit 1
fi
echo "PASS: $size MiB <= $max MiB"
