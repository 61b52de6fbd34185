#!/usr/bin/env bash
# fuzz.sh FUZZTIME PACKAGE:FUZZTARGET...: run each fuzz target for FUZZTIME.
# Go's fuzzing engine can end a run that found nothing with "context
# deadline exceeded" when -fuzztime runs out while it is still minimizing a
# new interesting input (not a failure: no failing input is written). Such a
# run is repeated once; any other failure, or one that writes a failing
# input to testdata/fuzz, fails at once.
set -uo pipefail
time=$1
shift
for spec in "$@"; do
    pkg=${spec%%:*}
    target=${spec#*:}
    for attempt in 1 2; do
        out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$time" "$pkg" 2>&1)
        rc=$?
        printf '%s\n' "$out"
        [ $rc -eq 0 ] && break
        if [ $attempt -eq 1 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
            echo "fuzz.sh: $target ended with the engine's deadline error and no failing input; running it once more" >&2
            continue
        fi
        exit $rc
    done
done
