#!/usr/bin/env bash
# section.sh NAME: replace the NAME section of BENCHMARKS.md (between the lines
# "<!-- NAME -->" and "<!-- /NAME -->") with standard input, appending the
# section when the file has none. `make bench`, `make test-faults` and `make
# test-k8s` each own one section, so that no run wipes another's figures.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
body=$(mktemp)
out=$(mktemp)
trap 'rm -f "$body" "$out"' EXIT
cat >"$body"
touch BENCHMARKS.md
if grep -qx "<!-- $name -->" BENCHMARKS.md; then
    awk -v start="<!-- $name -->" -v end="<!-- /$name -->" -v body="$body" '
        $0 == start { print; while ((getline line < body) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }
    ' BENCHMARKS.md >"$out"
else
    { cat BENCHMARKS.md; echo; echo "<!-- $name -->"; cat "$body"; echo "<!-- /$name -->"; } >"$out"
fi
cat "$out" >BENCHMARKS.md
