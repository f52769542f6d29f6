#!/usr/bin/env bash
# check_cli.sh LAC REPO_ROOT: the `lac` command line as a user meets it.
#
# Exit codes are the contract (0 ok, 1 errors in the input, 2 usage or I/O),
# and the messages say what went wrong. Each check prints PASS or FAIL; the
# last line is "N passed, M failed".
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 LAC REPO_ROOT" >&2
  exit 2
fi
lac=$1
root=$2
ex=$root/dsl_examples

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lac-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
out=$tmp/stdout
err=$tmp/stderr
rc=0

pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL: $1"
  shift
  for line in "$@"; do echo "      $line"; done
  echo "      --- stdout:"; sed -n '1,15s/^/      | /p' "$out"
  echo "      --- stderr:"; sed -n '1,15s/^/      | /p' "$err"
  failed=$((failed + 1))
}

# run ARGS...: runs lac, keeps stdout, stderr and the exit code.
run() {
  "$lac" "$@" >"$out" 2>"$err"
  rc=$?
}

# expect NAME CODE [PATTERN [STREAM]]: the last run exited with CODE and,
# when given, PATTERN (an extended regex) occurs in STREAM (stderr by default).
expect() {
  local name=$1 code=$2 pat=${3:-} stream=${4:-$err}
  if [ "$rc" -ne "$code" ]; then
    fail "$name" "exit code $rc, expected $code"
  elif [ -n "$pat" ] && ! grep -Eq -- "$pat" "$stream"; then
    fail "$name" "no match for /$pat/ in $(basename "$stream")"
  else
    pass "$name"
  fi
}

# --- a few inputs ------------------------------------------------------------
cat >"$tmp/bad.la" <<'EOF'
attention bad {
  param K = 16, V = 16;
  input q, k : bf16[B, T, H, K];
  input v    : bf16[B, T, H, V];
  query = foo(q);
  decay per_head(exp(1));
}
EOF
cat >"$tmp/warn.la" <<'EOF'
attention warn {
  param K = 16, V = 16;
  input q, k : bf16[B, T, H, K];
  input v    : bf16[B, T, H, V];
  let unused = q * 2;
}
EOF

# --- usage -------------------------------------------------------------------
run
expect "no arguments -> 2 with usage" 2 "^usage: lac"
run frobnicate
expect "unknown command -> 2" 2 "unknown command 'frobnicate'"
run check --no-such-option "$ex/linear.la"
expect "unknown option -> 2" 2 "unknown option '--no-such-option'"
run help
expect "help -> 0, usage on stdout" 0 "^usage: lac" "$out"

# --- check -------------------------------------------------------------------
run check "$tmp/missing.la"
expect "check of a missing file -> 2, cannot open" 2 "missing\.la: error: cannot open"
run check "$ex/linear.la"
expect "check of an example -> 0 with a summary" 0 "linear\.la: ok: attention linear" "$out"
run check "$tmp/bad.la"
expect "check of a bad file -> 1" 1 "bad\.la:5:11: error: unknown function 'foo'"
if [ "$rc" -eq 1 ] && grep -q '\^~~' "$err"; then
  pass "human diagnostics show a caret line"
else
  fail "human diagnostics show a caret line" "no '^~~' in stderr"
fi

run check --diagnostics=plain "$tmp/bad.la"
# Two errors and one note, one line each, no source lines, no carets.
nlines=$(wc -l <"$err")
if [ "$rc" -eq 1 ] && [ "$nlines" -eq 3 ] && ! grep -q '\^' "$err" &&
   grep -q "bad\.la:5:11: error: unknown function 'foo'" "$err" &&
   ! grep -q 'query = foo' "$err"; then
  pass "--diagnostics=plain: one line per diagnostic, no caret"
else
  fail "--diagnostics=plain: one line per diagnostic, no caret" "rc $rc, $nlines lines (expected 1 and 3)"
fi

run check "$tmp/warn.la"
expect "a warning alone -> 0" 0 "warning: let 'unused' is never used"
run check -Werror "$tmp/warn.la"
expect "-Werror turns the warning into exit 1" 1 "warning: let 'unused' is never used"

# Several files: the worst exit code of all, every file reported.
run check "$ex/linear.la" "$tmp/bad.la" "$ex/gla.la"
if [ "$rc" -eq 1 ] && grep -q "linear.la: ok" "$out" && grep -q "gla.la: ok" "$out"; then
  pass "check of several files reports each, exits 1 for the bad one"
else
  fail "check of several files reports each, exits 1 for the bad one" "rc $rc"
fi

# --- ref ---------------------------------------------------------------------
run ref "$ex/gla.la"
expect "ref without --shape -> 2" 2 "--shape"
for bad_shape in "1,x,2" "1,2" "0,4,2" "1,4,2,3" "-1,4,2"; do
  run ref "$ex/gla.la" --shape "$bad_shape"
  expect "ref --shape $bad_shape -> 2" 2 "--shape expects B,T,H"
done
run ref "$ex/lightning.la" --shape 1,5,2 --set K=abc
expect "--set K=abc -> 2" 2 "--set expects NAME=NUMBER"
run ref "$ex/lightning.la" --shape 1,5,2 --set Nope=1
expect "--set Nope=1 -> 1, no parameter named" 1 "no parameter named 'Nope'"
run ref "$ex/lightning.la" --shape 1,5,2 --set layer=5
expect "--set layer=5 -> 0" 0 "^lac ref: attention lightning" "$out"

run ref "$ex/gla.la" --shape 1,5,2 --out "$tmp/npy"
expect "ref --out DIR -> 0" 0 "^wrote .*\*\.npy" "$out"
missing_npy=""
for f in q k v g o final_state; do
  [ -s "$tmp/npy/$f.npy" ] || missing_npy="$missing_npy $f.npy"
done
if [ -z "$missing_npy" ]; then
  pass "ref --out writes q k v g o final_state .npy"
else
  fail "ref --out writes q k v g o final_state .npy" "missing:$missing_npy"
fi

# The shapes of what --out wrote: with numpy when it is there, else by
# reading the .npy headers (the format is simple; this checks the same).
if command -v python3 >/dev/null 2>&1; then
  if python3 -c 'import numpy' 2>/dev/null; then how=numpy; else how=header; fi
  if python3 - "$tmp/npy" "$how" >"$out" 2>"$err" <<'EOF'
import ast, os, struct, sys
d, how = sys.argv[1], sys.argv[2]
want = {"q": (1, 5, 2, 128), "k": (1, 5, 2, 128), "v": (1, 5, 2, 128),
        "g": (1, 5, 2, 128), "o": (1, 5, 2, 128), "final_state": (1, 2, 128, 128)}
bad = []
for name, shape in want.items():
    path = os.path.join(d, name + ".npy")
    if how == "numpy":
        import numpy as np
        a = np.load(path)
        got, ok = a.shape, a.dtype == np.float64 and bool(np.isfinite(a).all())
    else:
        with open(path, "rb") as f:
            raw = f.read()
        assert raw[:6] == b"\x93NUMPY", "bad magic"
        n = struct.unpack("<H", raw[8:10])[0]
        hdr = ast.literal_eval(raw[10:10 + n].decode("latin1"))
        got = hdr["shape"]
        count = 1
        for x in got:
            count *= x
        ok = hdr["descr"] == "<f8" and len(raw) == 10 + n + 8 * count and (10 + n) % 64 == 0
    if got != shape or not ok:
        bad.append("%s: shape %s (want %s), ok=%s" % (name, got, shape, ok))
print("\n".join(bad) if bad else "all shapes right")
sys.exit(1 if bad else 0)
EOF
  then
    pass "the .npy files load with the right shapes ($how)"
  else
    fail "the .npy files load with the right shapes ($how)"
  fi
else
  echo "SKIP: no python3; the .npy shapes are not checked"
fi

# --- dump and version ----------------------------------------------------------
run dump --tokens "$ex/linear.la"
expect "dump --tokens -> 0" 0 "^12:1 \"?attention\"? 'attention'$" "$out"
if [ "$rc" -eq 0 ] && tail -n 1 "$out" | grep -q "end of file"; then
  pass "dump --tokens ends with end of file"
else
  fail "dump --tokens ends with end of file"
fi
run dump --ast "$ex/linear.la"
expect "dump --ast -> 0" 0 "^attention linear" "$out"
run dump "$ex/linear.la"
expect "dump without --tokens or --ast -> 2" 2 "dump takes one of"
run version
expect "version -> 0 and names LLVM 19" 0 "LLVM 19\." "$out"

# --- compile: a default configuration that does not fit the head dims ----------
run compile "$ex/linear.la" -o "$tmp/k256.ptx" --arch sm_90a --set K=256 --set V=128
expect "compile at K = 256 -> 0, the first configuration that fits, with a warning" 0 \
  "warning: the configuration .*block_v=64.* does not fit K = 256, V = 128 on sm_90a; compiling .*block_v=32"
if grep -q "^// lac-kernel .* block_v=32 dk=256 dv=128 .*stages=2" "$tmp/k256.ptx" 2>/dev/null; then
  pass "the PTX is of the configuration named (block_v 32, stages 2)"
else
  fail "the PTX is of the configuration named (block_v 32, stages 2)"
fi
run compile "$ex/linear.la" -o "$tmp/k256.ptx" --arch sm_90a --set K=256 --set V=128 -Werror
expect "-Werror turns that warning into exit 1" 1 "warning: the configuration"
run compile "$ex/linear.la" -o "$tmp/k256.ptx" --arch sm_90a --set K=256 --set V=128 --set block_v=64
expect "a block_v pinned by --set is kept: exit 1 with the reason" 1 "at most 96 fit in registers"
run compile "$ex/linear_elu.la" -o "$tmp/elu256.ptx" --arch sm_90a --set K=256 --set V=128
expect "compile where no configuration of the tuning space fits -> 0 with one stage" 0 \
  "compiling .*block_v=32 warps=8 stages=1, the first of the tuning space that does with one stage"
run compile "$ex/linear_elu.la" -o "$tmp/elu256.ptx" --arch sm_90a --set K=256 --set V=128 --set stages=2
expect "... but not when stages is pinned: exit 1, shared memory" 1 "needs [0-9]+ bytes of shared memory"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
