# shellcheck shell=bash
# Sourced by e2e.sh. The e2e runs under names of its own (its compose
# project, VAULT_NAME_PREFIX, VAULT_PUBLISH) in a copy of the tree; this
# proves that it never touches what a user's real stack uses:
#   - each seed name (volumes vault-data, vault-init, vault-logs; containers
#     vault, vault-init) that is free gets a decoy, labelled
#     vault-init.e2e-decoy=RUN: a volume holding a marker file, or a
#     container that is created and never started;
#   - a name already taken (a developer's own stack) is left alone: its
#     labels, and a container's id and start time, are noted;
#   - Docker's events are recorded for the whole run: any create, destroy,
#     stop, start... of a guarded name is a failure (a live volume's own
#     timestamps change as Vault writes to it, so they prove nothing). Docker
#     also reports "volume create" whenever a container mounts a volume, so
#     for a decoy volume, which the guard mounts itself to read its marker,
#     only "destroy" counts, and its content must be the marker alone;
#   - the checkout's .env and secrets/ are fingerprinted.
# guard_check compares everything with the start; guard_remove removes the
# decoys of this run, and nothing else.

guard_label=vault-init.e2e-decoy
guard_volumes=(vault-data vault-init vault-logs)
guard_containers=(vault vault-init)
guard_decoy_volumes=()

# guard_start RUN IMAGE STATE ROOT: IMAGE has a shell (for the marker
# files); STATE is a file to keep the fingerprints in; ROOT is the checkout.
guard_start() {
    guard_run=$1 guard_image=$2 guard_state=$3 guard_root=$4
    : >"$guard_state"
    guard_remove_stale
    local name
    for name in "${guard_volumes[@]}"; do
        if docker volume inspect "$name" >/dev/null 2>&1; then
            echo "guard: volume $name exists (not the e2e's): left alone, checked at the end"
        else
            docker volume create --label "$guard_label=$guard_run" "$name" >/dev/null
            guard_in_volume "$name" "echo $guard_run >/decoy/e2e-decoy-marker"
            guard_decoy_volumes+=("$name")
            echo "guard: decoy volume $name with a marker file"
        fi
        echo "volume $name $(guard_fingerprint volume "$name")" >>"$guard_state"
    done
    for name in "${guard_containers[@]}"; do
        if docker container inspect "$name" >/dev/null 2>&1; then
            echo "guard: container $name exists (not the e2e's): left alone, checked at the end"
        else
            docker create --name "$name" --label "$guard_label=$guard_run" --network none \
                --entrypoint sh "$guard_image" -c 'exit 0' >/dev/null
            echo "guard: decoy container $name"
        fi
        echo "container $name $(guard_fingerprint container "$name")" >>"$guard_state"
    done
    echo "files - $(guard_fingerprint files -)" >>"$guard_state"
    # From now on (--since: no gap before the listener is up).
    docker events --since "$(date +%s.%N)" --filter type=container --filter type=volume \
        --format '{{.Type}} {{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "name"}}' >"$guard_state.events" 2>&1 &
    guard_events_pid=$!
}

# guard_in_volume NAME SCRIPT: run SCRIPT with volume NAME at /decoy.
# volume-nocopy: the image's content is never copied into the volume.
guard_in_volume() {
    docker run --rm --network none --entrypoint sh \
        --mount "type=volume,src=$1,dst=/decoy,volume-nocopy" "$guard_image" -c "$2"
}

# guard_fingerprint KIND NAME: one line that changes when NAME is removed,
# recreated, restarted or (a decoy volume) loses its marker.
guard_fingerprint() {
    case $1 in
    volume)
        local labels decoy marker=-
        labels=$(docker volume inspect -f '{{json .Labels}}' "$2" 2>/dev/null) || { echo missing; return; }
        decoy=$(docker volume inspect -f "{{index .Labels \"$guard_label\"}}" "$2")
        # Only a decoy of this run is ever mounted: a user's volume is not opened.
        if [ "$decoy" = "$guard_run" ]; then
            marker=$(guard_in_volume "$2" 'ls -A /decoy | tr "\n" " "; cat /decoy/e2e-decoy-marker 2>/dev/null || echo none')
        fi
        echo "labels=$labels marker=$marker"
        ;;
    container)
        local out
        out=$(docker container inspect -f "id={{.Id}} started={{.State.StartedAt}} status={{.State.Status}} labels={{json .Config.Labels}}" "$2" 2>/dev/null) || out=missing
        echo "$out"
        ;;
    files)
        (cd "$guard_root" && { sha256sum .env 2>/dev/null; find secrets -exec stat -c '%n %a %u:%g %s %Y' {} + 2>/dev/null; } | sha256sum | cut -c1-16)
        ;;
    esac
}

# guard_events: the recorded events that touched a guarded name. A volume
# and a container of the e2e's own, created and removed, mark the end of
# the record first: every earlier event is in the file by then.
guard_events() {
    local sync="e2e-guard-sync-$guard_run"
    docker volume create "$sync" >/dev/null && docker volume rm "$sync" >/dev/null
    for _ in $(seq 100); do
        grep -q "^volume destroy $sync " "$guard_state.events" && break
        sleep 0.1
    done
    grep -q "^volume destroy $sync " "$guard_state.events" || { echo "guard: the event record did not catch up"; return; }
    awk -v vols="${guard_volumes[*]}" -v decoys="${guard_decoy_volumes[*]}" -v cons="${guard_containers[*]}" '
        BEGIN { n = split(vols, a, " "); for (i = 1; i <= n; i++) V[a[i]] = 1
                n = split(decoys, d, " "); for (i = 1; i <= n; i++) D[d[i]] = 1
                n = split(cons, b, " "); for (i = 1; i <= n; i++) C[b[i]] = 1 }
        $1 == "volume" && V[$3] && ($2 == "destroy" || ($2 == "create" && !D[$3])) { print }
        $1 == "container" && C[$4] && $2 ~ /^(create|destroy|die|kill|stop|start|restart|rename|pause|unpause|update|oom)$/ { print }
    ' "$guard_state.events"
}

# guard_check: every guarded name and file is as guard_start found it, and
# no event touched one. Prints each difference; fails if there is any.
guard_check() {
    local kind name want got events bad=0
    while read -r kind name want; do
        got=$(guard_fingerprint "$kind" "$name")
        if [ "$got" != "$want" ]; then
            echo "guard: $kind $name changed during the e2e:" >&2
            echo "  before: $want" >&2
            echo "  after:  $got" >&2
            bad=1
        fi
    done <"$guard_state"
    events=$(guard_events)
    if [ -n "$events" ]; then
        echo "guard: Docker events touched the seed's names during the e2e:" >&2
        sed 's/^/  /' <<<"$events" >&2
        bad=1
    fi
    [ $bad = 0 ] && echo "guard: the seed's volumes and containers, .env and secrets/ are as they were; no event touched them"
    return $bad
}

# guard_remove: stop the event record; remove this run's decoys (by their
# label), nothing else.
guard_remove() {
    local name
    kill "$guard_events_pid" 2>/dev/null || true
    for name in "${guard_containers[@]}"; do
        if [ "$(docker container inspect -f "{{index .Config.Labels \"$guard_label\"}}" "$name" 2>/dev/null)" = "$guard_run" ]; then
            docker rm -v "$name" >/dev/null
        fi
    done
    for name in "${guard_volumes[@]}"; do
        if [ "$(docker volume inspect -f "{{index .Labels \"$guard_label\"}}" "$name" 2>/dev/null)" = "$guard_run" ]; then
            docker volume rm "$name" >/dev/null
        fi
    done
}

# guard_remove_stale: decoys left by an e2e that was killed before its
# cleanup (SIGKILL, a CI timeout) hold the seed's names, and would stop a
# developer's `make prod-local`. Their label names the run, e2e-PID-TIME:
# those whose process is gone are removed; nothing without the label is.
guard_remove_stale() {
    local kind id run pid
    for kind in container volume; do
        docker "$kind" ls -q --filter "label=$guard_label" 2>/dev/null | while read -r id; do
            run=$(docker "$kind" inspect -f "{{index .Labels \"$guard_label\"}}" "$id")
            pid=$(echo "$run" | cut -d- -f2)
            case $pid in '' | *[!0-9]*) continue ;; esac
            kill -0 "$pid" 2>/dev/null && continue
            echo "guard: removing the stale decoy $kind $id of run $run (its e2e is gone)"
            docker "$kind" rm -f "$id" >/dev/null
        done
    done
}
