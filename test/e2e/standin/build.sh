#!/usr/bin/env bash
# Builds the two local stand-ins for the base images that `make e2e` would
# otherwise pull, for machines that reach no image registry:
#   vault-standin:1.21.0   the real vault binary ($VAULT_BIN, else bin/vault-1.21.0,
#                          the test build of `make vault`) in a
#                          minimal image laid out like hashicorp/vault
#   golang-standin:local   the local Go toolchain plus a module cache holding
#                          every module of go.sum, so the Dockerfile builds offline
#   local-kms-standin:VERSION  local-kms, an AWS KMS emulator ($LOCALKMS_BIN,
#                          else bin/local-kms-VERSION of `make local-kms`, else
#                          built from the Go module proxy), for the e2e's
#                          KMS=aws step; it has no official image to stand in
#                          for, so `make e2e` builds it even where a registry
#                          is reachable. `build.sh localkms` prints its tag last.
# The project's Dockerfile and docker-compose.yml are used unchanged; the
# stand-ins come in only through VAULT_IMAGE and the GO_IMAGE build arg.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
here="$root/test/e2e/standin"
VAULT_BIN=${VAULT_BIN:-$root/bin/vault-1.21.0}
BUSYBOX=${BUSYBOX:-$(command -v busybox)}
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT

# busybox must be static: the images have no libc (ldd fails on a static binary).
if [ -z "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
    echo "build.sh: $BUSYBOX is not static; install Debian's busybox-static" >&2
    exit 1
fi

base_rootfs() { # dir: busybox, /bin/sh and friends, CA certificates, /tmp
    local dir=$1
    mkdir -p "$dir/bin" "$dir/etc/ssl/certs" "$dir/tmp" "$dir/usr/local/bin"
    chmod 1777 "$dir/tmp"
    cp "$BUSYBOX" "$dir/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
    done
    cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/"
}

# fresh TAG HASH: whether the image TAG exists and was built from inputs
# whose hash is HASH (so an unchanged stand-in is not rebuilt).
fresh() {
    [ "$(docker image inspect -f '{{index .Config.Labels "standin.inputs"}}' "$1" 2>/dev/null)" = "$2" ]
}

vault_image() {
    local hash
    hash=$(cat "$here/vault-entrypoint.sh" "$here/build.sh" "$here/su-exec/main.go" <(stat -c '%s %Y' "$VAULT_BIN") | sha256sum | cut -c1-16)
    if fresh vault-standin:1.21.0 "$hash"; then echo "vault-standin:1.21.0 is up to date"; return; fi
    local dir="$work/vault"
    base_rootfs "$dir"
    install -m 0755 "$VAULT_BIN" "$dir/bin/vault"
    install -m 0755 "$here/vault-entrypoint.sh" "$dir/usr/local/bin/docker-entrypoint.sh"
    mkdir -p "$dir/sbin"
    (cd "$root" && CGO_ENABLED=0 go build -o "$dir/sbin/su-exec" ./test/e2e/standin/su-exec)
    # As in the official (Alpine) image: user vault, uid 100, group vault, gid 1000.
    printf 'root:x:0:0:root:/root:/bin/sh\nvault:x:100:1000:vault:/home/vault:/bin/false\n' > "$dir/etc/passwd"
    printf 'root:x:0:\nvault:x:1000:vault\n' > "$dir/etc/group"
    mkdir -p "$dir/vault/config" "$dir/vault/logs" "$dir/vault/file" "$dir/home/vault"
    chown -R 100:1000 "$dir/vault" "$dir/home/vault"
    tar -C "$dir" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'EXPOSE 8200' \
        --change 'VOLUME /vault/logs' \
        --change 'VOLUME /vault/file' \
        --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
        --change 'CMD ["server", "-dev"]' \
        --change "LABEL standin.inputs=$hash" \
        - vault-standin:1.21.0 >/dev/null
    echo "built vault-standin:1.21.0"
}

go_image() {
    local hash
    # go.mod too: a requirement can move there (say, an indirect one made
    # direct) while go.sum stays as it was, and the cache must follow it.
    hash=$(cat "$here/build.sh" "$root/go.mod" "$root/go.sum" <(go version) | sha256sum | cut -c1-16)
    if fresh golang-standin:local "$hash"; then echo "golang-standin:local is up to date"; return; fi
    local dir="$work/go"
    base_rootfs "$dir"
    mkdir -p "$dir/usr/local" "$dir/go/pkg/mod" "$dir/root"
    cp -a "$(go env GOROOT)" "$dir/usr/local/go"
    # Every module the product needs, fetched now (from the local cache or the proxy).
    (cd "$root" && GOMODCACHE="$dir/go/pkg/mod" GOFLAGS=-mod=mod go mod download)
    tar -C "$dir" -c . | docker import \
        --change 'ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/bin:/bin' \
        --change 'ENV GOPATH=/go' \
        --change 'ENV GOPROXY=off' \
        --change 'ENV GOFLAGS=-mod=mod' \
        --change 'ENV GOTOOLCHAIN=local' \
        --change 'ENV HOME=/root' \
        --change 'WORKDIR /go' \
        --change "LABEL standin.inputs=$hash" \
        - golang-standin:local >/dev/null
    echo "built golang-standin:local"
}

LOCALKMS_VERSION=$(sed -n 's|^[[:space:]]*github.com/nsmithuk/local-kms v\([^ ]*\).*|\1|p' "$root/tools/localkms/go.mod")

localkms_image() {
    local tag="local-kms-standin:$LOCALKMS_VERSION" bin=${LOCALKMS_BIN:-$root/bin/local-kms-$LOCALKMS_VERSION}
    # Static, as the image has no libc: else (or when absent) build it here.
    if [ ! -x "$bin" ] || ldd "$bin" >/dev/null 2>&1; then
        bin="$work/local-kms"
        (cd "$root/tools/localkms" && CGO_ENABLED=0 go build -trimpath -o "$bin" github.com/nsmithuk/local-kms)
    fi
    local hash
    hash=$(cat "$here/build.sh" <(sha256sum <"$bin") | sha256sum | cut -c1-16)
    if fresh "$tag" "$hash"; then echo "$tag is up to date"; echo "$tag"; return; fi
    local dir="$work/localkms"
    base_rootfs "$dir"
    install -m 0755 "$bin" "$dir/usr/local/bin/local-kms"
    mkdir -p "$dir/init" "$dir/data"
    # As the project's own image: the region and account of the e2e's key,
    # its database in /data, its seed file at /init/seed.yaml, port 8080.
    tar -C "$dir" -c . | docker import \
        --change 'ENV PATH=/usr/local/bin:/bin' \
        --change 'ENV KMS_ACCOUNT_ID=111122223333' \
        --change 'ENV KMS_REGION=us-east-1' \
        --change 'ENV KMS_DATA_PATH=/data' \
        --change 'ENV PORT=8080' \
        --change 'EXPOSE 8080' \
        --change 'ENTRYPOINT ["local-kms"]' \
        --change "LABEL standin.inputs=$hash" \
        - "$tag" >/dev/null
    echo "built $tag"
    echo "$tag"
}

case "${1:-all}" in
    vault) vault_image ;;
    go) go_image ;;
    localkms) localkms_image ;;
    all) vault_image; go_image; localkms_image ;;
    *) echo "usage: build.sh [vault|go|localkms|all]" >&2; exit 2 ;;
esac
