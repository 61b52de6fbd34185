#!/usr/bin/env bash
# smoke.sh DIR [IMAGE]: prove a cluster of `scripts/k8s-cluster.sh up DIR`
# runs this repo's pods: IMAGE (default vault-init:local, from docker) is
# imported and runs `version` to completion with imagePullPolicy: Never,
# `kubectl logs` returns its output (API server -> kubelet on the node IP),
# and a pod resolves kubernetes.default.svc.cluster.local to 10.96.0.1 through
# CoreDNS (the pause image's `lookup` mode). Exits non-zero on the first failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
dir=$(realpath -m "$1")
image=${2:-vault-init:local}
kc() { "$root/bin/k8s-${K8S_VERSION:-1.34.3}/kubectl" --kubeconfig "$dir/admin.kubeconfig" "$@"; }
fail() { echo "smoke: FAIL: $*" >&2; kc get pods -o wide >&2 || true; exit 1; }

"$root/scripts/k8s-cluster.sh" import "$dir" "$image"

# pod NAME IMAGE ARGS-JSON: a run-once pod that must reach Succeeded.
pod() {
    kc delete pod "$1" --ignore-not-found --wait=true >/dev/null
    kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  containers:
  - {name: main, image: "$2", imagePullPolicy: Never, $3}
EOF
    kc wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$1" --timeout=120s >/dev/null ||
        fail "pod $1 did not succeed: $(kc get pod "$1" -o jsonpath='{.status.containerStatuses[0].state}')"
}

pod smoke-version "$image" 'args: ["version"]'
out=$(kc logs smoke-version) || fail "kubectl logs smoke-version"
[ -n "$out" ] || fail "kubectl logs smoke-version is empty"
echo "smoke: $image version: $out"

pod smoke-dns docker.io/library/pause:local 'command: ["/pause", "lookup", "kubernetes.default.svc.cluster.local"]'
out=$(kc logs smoke-dns) || fail "kubectl logs smoke-dns"
[ "$out" = 10.96.0.1 ] || fail "kubernetes.default.svc.cluster.local resolved to '$out', want 10.96.0.1"
echo "smoke: kubernetes.default.svc.cluster.local -> $out"

kc delete pod smoke-version smoke-dns --wait=false >/dev/null
echo "smoke: ok"
