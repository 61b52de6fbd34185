#!/usr/bin/env bash
# wait-healthy.sh CONTAINER SECONDS: wait until CONTAINER's healthcheck
# reports healthy. On failure, say why and show the container's last logs.
set -euo pipefail
name=$1
timeout=${2:-180}
deadline=$((SECONDS + timeout))
status=
while [ $SECONDS -lt $deadline ]; do
    status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$name" 2>/dev/null || echo missing)
    case "$status" in
        healthy) exit 0 ;;
        exited|dead|missing) break ;;
    esac
    sleep 1
done
echo "$name is not healthy after ${timeout}s (status: ${status:-unknown}). Its last logs:" >&2
docker logs --tail 30 "$name" >&2 || true
echo "See: docker logs $name; make status" >&2
exit 1
