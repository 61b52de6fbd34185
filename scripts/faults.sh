#!/usr/bin/env bash
# make test-faults: the whole fault-injection suite. The full log goes to
# bin/faults.log; its FIGURE lines become the faults section of BENCHMARKS.md,
# with the date and the commit. A failing test fails the target, and then
# BENCHMARKS.md is left as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
set +e
go test -tags faultinject -count=1 -timeout 60m -v ./test/faults/ >bin/faults.log 2>&1
rc=$?
set -e
grep -E '^(=== RUN|--- |FIGURE|PASS|FAIL|ok)' bin/faults.log || true
if [ $rc -ne 0 ]; then
    echo "the fault suite failed (exit $rc); see bin/faults.log" >&2
    exit $rc
fi
{
    echo "## Fault suite (make test-faults)"
    echo
    echo "Written by \`make test-faults\` on $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- cmd internal test/faults || echo ' with uncommitted changes'),"
    echo "$(nproc) cores. Each figure is measured against real Vault processes; durations are wall time."
    echo
    scripts/figures.sh bin/faults.log
} | scripts/section.sh faults
echo "wrote the faults section of BENCHMARKS.md"
