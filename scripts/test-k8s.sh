#!/usr/bin/env bash
# make test-k8s: the Helm chart in a real single-node Kubernetes.
#
# Builds the images the pods run (the project's Dockerfile; Vault's official
# image where a registry answers, else the local stand-in of test/e2e), starts
# a throwaway cluster with scripts/k8s-cluster.sh in a fresh directory,
# imports the images into it, runs test/k8s (build tag k8scluster) and tears
# the cluster down, whatever happened. The full log goes to bin/k8s.log; its
# FIGURE lines become the k8s section of BENCHMARKS.md, with the date and the
# commit. A failure leaves BENCHMARKS.md as it was, prints the tail of each
# cluster component's log, and keeps the cluster's directory for a look.
#
# Root only (kubelet, containerd, cni0, iptables). It never touches a cluster
# it did not start: k8s-cluster.sh up refuses while cni0 exists (another test
# cluster, or `make k8s-up`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
[ "$(id -u)" = 0 ] || { echo "test-k8s: needs root (kubelet, containerd, cni0, iptables)" >&2; exit 1; }
[ -x /usr/lib/cni/bridge ] || { echo "test-k8s: no /usr/lib/cni/bridge: install Debian's containernetworking-plugins" >&2; exit 1; }

# The Makefile exports the binaries it built (keyed by version).
export HELM_BIN=${HELM_BIN:-$root/bin/helm-3.22.0/helm}
export KUBECTL_BIN=${KUBECTL_BIN:-$root/bin/k8s-${K8S_VERSION:-1.34.3}/kubectl}

# The images: vault-init from this tree under a tag of its own (never the
# developer's vault-init:local), Vault as in test/e2e.
if [ -z "${VAULT_IMAGE:-}" ] && ! docker pull -q hashicorp/vault:1.21.0 >/dev/null 2>&1; then
    echo "test-k8s: no registry: the local stand-in for hashicorp/vault"
    test/e2e/standin/build.sh vault
    export VAULT_IMAGE=vault-standin:1.21.0
fi
if [ -z "${GO_IMAGE:-}" ] && ! docker pull -q golang:1.26 >/dev/null 2>&1; then
    echo "test-k8s: no registry: the local stand-in for golang"
    test/e2e/standin/build.sh go
    export GO_IMAGE=golang-standin:local
fi
export VAULT_IMAGE=${VAULT_IMAGE:-hashicorp/vault:1.21.0}
export VAULT_INIT_IMAGE=vault-init:k8s-test
docker build -q ${GO_IMAGE:+--build-arg GO_IMAGE=$GO_IMAGE} --build-arg VERSION="${VERSION:-dev}" -t "$VAULT_INIT_IMAGE" . >/dev/null
echo "test-k8s: images $VAULT_INIT_IMAGE, $VAULT_IMAGE"

dir=$(mktemp -d /tmp/vault-init-k8s-test.XXXXXX)
export K8S_DIR=$dir
ok=0
finish() {
    scripts/k8s-cluster.sh down "$dir" >/dev/null 2>&1 || echo "test-k8s: k8s-cluster.sh down $dir failed" >&2
    if [ $ok = 1 ]; then
        rm -rf "$dir"
    else
        for f in "$dir"/logs/*.log; do
            [ -f "$f" ] || continue
            echo "--- $(basename "$f") (last 15 lines)"
            tail -15 "$f"
        done
        # Root's only (0700), and throwaway: a test Vault's keys (in etcd) and
        # the cluster's admin token.
        echo "test-k8s: the cluster's files are kept in $dir (the test Vault's keys and the cluster's admin token: rm -rf it when done)" >&2
    fi
}
trap finish EXIT
started=$SECONDS
scripts/k8s-cluster.sh up "$dir" >/dev/null
scripts/k8s-cluster.sh import "$dir" "$VAULT_INIT_IMAGE" "$VAULT_IMAGE"
echo "test-k8s: cluster up with the images in $((SECONDS - started)) s"

mkdir -p bin
set +e
go test -tags k8scluster -count=1 -v -timeout 30m ./test/k8s/ >bin/k8s.log 2>&1
rc=$?
set -e
grep -E '^(=== RUN|--- |FIGURE|PASS|FAIL|ok)|^\s+cluster' bin/k8s.log || true
if [ $rc -ne 0 ]; then
    tail -60 bin/k8s.log
    echo "test-k8s: the cluster test failed (exit $rc); see bin/k8s.log" >&2
    exit $rc
fi
ok=1
{
    echo "## Kubernetes (make test-k8s)"
    echo
    echo "Written by \`make test-k8s\` on $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- cmd internal deploy test/k8s || echo ' with uncommitted changes'),"
    echo "$(nproc) cores. The chart with 3 replicas in a single-node cluster (scripts/k8s-cluster.sh), check"
    echo "interval 1s; wall time from the event (the API call, or the helm or kubectl command) until every"
    echo "pod's Vault answers initialized and unsealed at its pod IP, polled every 200 ms."
    echo
    scripts/figures.sh bin/k8s.log
} | scripts/section.sh k8s
echo "wrote the k8s section of BENCHMARKS.md"
