#!/usr/bin/env bash
# check_docs.sh LAC REPO_ROOT: the documentation's examples compile.
#
# Every fenced block tagged ```la in REPO_ROOT/docs/*.md and REPO_ROOT/README.md
# is a complete .la file (fragments are tagged ```text). Each one is written
# to a temporary file named after where it came from and checked with
# `LAC check -Werror`. Prints PASS or FAIL per block, with lac's diagnostics
# for a failure; exits non-zero when a block fails, when a block is not
# closed, or when no block was found at all (a broken extraction must not
# pass silently).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 LAC_BINARY REPO_ROOT" >&2
  exit 2
fi
lac=$1
root=$2
if [ ! -x "$lac" ]; then
  echo "check_docs.sh: '$lac' is not an executable" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lac-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

shopt -s nullglob
docs=("$root"/docs/*.md)
[ -f "$root/README.md" ] && docs+=("$root/README.md")

blocks=0
passed=0
failed=0
for doc in "${docs[@]}"; do
  rel=${doc#"$root"/}
  stem=$(printf '%s' "$rel" | tr '/.' '__')
  # Split the ```la blocks into $tmp/STEM.N.la and list "N LINE" (LINE: the
  # block's first line in the document) in $tmp/STEM.index.
  if ! awk -v out="$tmp/$stem" '
      /^```la[ \t]*$/ { if (inside) { bad = 1; exit }
                        inside = 1; n++; file = out "." n ".la"
                        printf "" > file
                        print n, NR + 1 > (out ".index"); next }
      /^```/          { if (inside) { inside = 0; close(file) }; next }
      inside          { print > file }
      END             { if (inside || bad) exit 1 }
    ' "$doc"; then
    echo "FAIL: $rel: a \`\`\`la block is not closed (or opens inside another)"
    failed=$((failed + 1))
    continue
  fi
  [ -f "$tmp/$stem.index" ] || continue
  while read -r n line; do
    f=$tmp/$stem.$n.la
    blocks=$((blocks + 1))
    if out=$("$lac" check -Werror "$f" 2>&1); then
      echo "PASS: $rel block $n (line $line)"
      passed=$((passed + 1))
    else
      echo "FAIL: $rel block $n (line $line; lac's line 1 is line $line of $rel): lac check -Werror says:"
      printf '%s\n' "$out" | sed 's/^/      | /'
      failed=$((failed + 1))
    fi
  done <"$tmp/$stem.index"
done

echo "$passed passed, $failed failed, $blocks blocks in ${#docs[@]} files"
if [ "$blocks" -eq 0 ]; then
  echo "check_docs.sh: no \`\`\`la blocks found under $root/docs and $root/README.md" >&2
  exit 1
fi
[ "$failed" -eq 0 ]
