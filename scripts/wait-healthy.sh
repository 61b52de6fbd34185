#!/usr/bin/env bash
# wait-healthy.sh CONTAINER SECONDS: wait until CONTAINER (vault-init) is
# ready: its healthcheck reports healthy and a fresh `vault-init
# healthcheck` agrees (Docker's status may date from before a restart of
# Vault). A Vault that waits for a seal migration never gets ready by
# itself: say so at once, and how to finish it. On failure, say why and
# show the container's last logs.
set -euo pipefail
name=$1
timeout=${2:-180}
deadline=$((SECONDS + timeout))
status=
while [ $SECONDS -lt $deadline ]; do
    status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$name" 2>/dev/null || echo missing)
    case "$status" in
        exited|dead|missing) break ;;
    esac
    report=
    [ "$status" = starting ] || report=$(docker exec "$name" vault-init status 2>/dev/null || true) # exit 1: not ready
    if grep -q '^  migration    pending' <<<"$report"; then
        echo "Vault waits for a seal migration (its seal changed): finish it with" >&2
        echo "  docker exec $name vault-init migrate" >&2
        echo "See docs/keys.md, \"Seal migration\"." >&2
        exit 1
    fi
    if [ "$status" = healthy ] && docker exec "$name" vault-init healthcheck >/dev/null 2>&1; then
        exit 0
    fi
    sleep 2
done
echo "$name is not healthy after ${timeout}s (status: ${status:-unknown}). Its last logs:" >&2
docker logs --tail 30 "$name" >&2 || true
echo "See: docker logs $name; make status" >&2
exit 1
