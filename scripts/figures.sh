#!/usr/bin/env bash
# figures.sh LOG: the FIGURE lines of a test log ("FIGURE name: value", printed
# by test/faults and test/k8s) as a Markdown table, for scripts/section.sh.
# The value is what follows the last ": " of the line: a name may hold a
# colon ("migrate: window ..."), a value may not.
set -euo pipefail
echo "| figure | value |"
echo "|---|---|"
sed -n 's/^FIGURE \(.*\): \(.*\)$/| \1 | \2 |/p' "$1"
