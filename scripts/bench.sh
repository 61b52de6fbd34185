#!/usr/bin/env bash
# make bench: run the benchmarks of test/bench against real Vault servers and
# write their section of BENCHMARKS.md with the date, the commit, the machine
# and the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
BENCH_OUT=$rows go test -run '^$' -bench . -benchtime 1x -timeout 60m ./test/bench/ | grep -vE '^\s+20[0-9]{2}-'
{
    echo "## Benchmarks (make bench)"
    echo
    echo "Written by \`make bench\` on $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- cmd internal || echo ' with uncommitted changes'),"
    echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)."
    echo "Timings drift on a shared machine: compare the ratios, measured in the same run."
    echo
    echo "| figure | value |"
    echo "|---|---|"
    cat "$rows"
} | scripts/section.sh bench
echo "wrote the bench section of BENCHMARKS.md"
