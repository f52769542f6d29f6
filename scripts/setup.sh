#!/usr/bin/env bash
# setup.sh: make sure this machine has what lac needs to build and test.
#
# Idempotent: every dependency is checked first, and apt-get (update, then
# install) runs only when something is missing, so on a prepared machine this
# only prints what it found. CI runs it on a fresh Debian 12 machine, where it
# installs everything, as root or through sudo when that exists.
#
#   scripts/setup.sh            check, and install what is missing
#   scripts/setup.sh --check    check only; exit 1 when something is missing
#
# Beyond the libraries: ninja (the presets' generator), make and g++ (the C++
# linker of liblac.so, which links LLVM statically).
set -euo pipefail

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

LLVM_CMAKE_DIR=/usr/lib/llvm-19/lib/cmake/llvm

say() { printf 'setup: %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# The grammar uses %define parse.error custom and parse.lac: bison 3.8 or newer.
bison_ok() {
  have bison || return 1
  local v major minor
  v=$(bison --version | sed -n '1s/.* \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
  [ -n "$v" ] || return 1
  major=${v%%.*} minor=${v#*.}
  [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 8 ]; }
}

# libFuzzer and the sanitizer runtimes of clang 19 are in libclang-rt-19-dev.
fuzzer_ok() {
  have clang-19 || return 1
  local rt
  rt=$(clang-19 -print-resource-dir 2>/dev/null) || return 1
  find "$rt/lib" -name 'libclang_rt.fuzzer*.a' -print -quit 2>/dev/null | grep -q .
}

# check_all: fills `missing` with the Debian packages whose check fails.
missing=()
need() {
  local pkg=$1 what=$2
  shift 2
  if "$@" >/dev/null 2>&1; then
    say "ok       $what"
  else
    say "missing  $what (package $pkg)"
    missing+=("$pkg")
  fi
}
check_all() {
  missing=()
  need cmake              "cmake"                            have cmake
  need ninja-build        "ninja"                            have ninja
  need make               "make"                             have make
  need gcc                "gcc"                              have gcc
  need g++                "g++"                              have g++
  need flex               "flex"                             have flex
  need bison              "bison >= 3.8"                     bison_ok
  need pkg-config         "pkg-config"                       have pkg-config
  need check              "check (pkg-config check)"         pkg-config --exists check
  need llvm-19-dev        "llvm-19-dev ($LLVM_CMAKE_DIR)"    test -f "$LLVM_CMAKE_DIR/LLVMConfig.cmake"
  need clang-19           "clang-19"                         have clang-19
  need libclang-rt-19-dev "libFuzzer of clang 19"            fuzzer_ok
  need zlib1g-dev         "zlib1g-dev (zlib.h)"              test -f /usr/include/zlib.h
  need libzstd-dev        "libzstd-dev (zstd.h)"             test -f /usr/include/zstd.h
  need python3            "python3"                          have python3
}

check_all
if [ ${#missing[@]} -eq 0 ]; then
  say "all dependencies present"
  exit 0
fi

install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$check_only" = 1 ]; then
  say "install with: $install_cmd"
  exit 1
fi
if ! have apt-get; then
  say "no apt-get here; install these Debian packages or their equivalents: ${missing[*]}"
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif have sudo; then
  sudo=(sudo)
else
  say "not root and no sudo; as root, run:"
  say "  $install_cmd"
  say "then run $0 again"
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
say "running: ${sudo[*]:+${sudo[*]} }apt-get update"
"${sudo[@]}" apt-get update
say "running: ${sudo[*]:+${sudo[*]} }apt-get install -y --no-install-recommends ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

# Check again: a package that installed but does not give what we need (an
# old bison, say) must fail here, not halfway through the build.
say "checking again after the install"
check_all
if [ ${#missing[@]} -ne 0 ]; then
  say "still missing after apt-get: ${missing[*]}"
  exit 1
fi
say "all dependencies present"
