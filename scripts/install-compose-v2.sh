#!/usr/bin/env bash
# Install Docker Compose v2 as a docker CLI plugin, built from source through
# the Go module proxy (no other registry is reachable from CI). Users run
# `docker compose` (v2), so the e2e must too; Debian's docker-compose v1 stays
# only as the Makefile's fallback.
#
# `go install` refuses this module (its go.mod has exclude directives), so the
# module is copied out of the module cache and built in place. Cold, this takes
# about 8 minutes on 2 cores; the plugin lives outside the clone and the Go
# build cache makes a rebuild cheap. A no-op when the version is already there.
set -euo pipefail

version=${COMPOSE_VERSION:-v2.40.3}
plugin_dir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
plugin=$plugin_dir/docker-compose

if docker compose version 2>/dev/null | grep -qF "$version"; then
    echo "docker compose $version already installed"
    exit 0
fi

echo "building docker compose $version from the Go module proxy (cold: ~8 min)"
dir=$(go mod download -json "github.com/docker/compose/v2@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { echo "go mod download gave no module dir" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$dir/." "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$plugin_dir"
# The version shown by `docker compose version` comes from this ldflag.
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" \
    -o "$plugin.tmp" ./cmd)
mv "$plugin.tmp" "$plugin"
docker compose version
