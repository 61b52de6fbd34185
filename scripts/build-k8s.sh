#!/usr/bin/env bash
# build-k8s.sh NAME...: build Kubernetes commands (kube-apiserver, kubectl,
# kubelet, ...) of K8S_VERSION from the Go module proxy into
# bin/k8s-VERSION/NAME, each once. k8s.io/kubernetes is not built as a
# dependency: its go.mod points its k8s.io/* modules at ./staging, so a copy
# of the module has those replaced by the published staging modules of the
# same release (v0.MINOR.PATCH), and its go.work removed. kube-apiserver
# takes about 20 minutes cold on 2 cores; the Go caches make a rebuild quick.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${K8S_VERSION:-1.34.3}
out=bin/k8s-$version
src=bin/src/kubernetes-$version
mkdir -p "$out"
missing=()
for name in "$@"; do
    [ -x "$out/$name" ] || missing+=("$name")
done
[ ${#missing[@]} -gt 0 ] || exit 0
if [ ! -f "$src/.prepared" ]; then
    dir=$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir" ] || { echo "build-k8s: k8s.io/kubernetes@v$version did not download" >&2; exit 1; }
    rm -rf "$src"
    mkdir -p "$(dirname "$src")"
    cp -r "$dir" "$src"
    chmod -R u+w "$src"
    sed -i -E "s#=> \./staging/src/(k8s\.io/[^ ]+)#=> \1 v0.${version#1.}#" "$src/go.mod"
    rm -f "$src/go.work" "$src/go.work.sum"
    touch "$src/.prepared"
fi
root=$PWD
for name in "${missing[@]}"; do
    echo "build-k8s: $name $version"
    # The version is stamped as the release's own build does: without it the
    # server reports v0.0.0-master, and a chart's kubeVersion check fails.
    v=k8s.io/component-base/version
    minor=${version#1.}
    minor=${minor%%.*}
    ldflags="-X $v.gitVersion=v$version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
    ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=v$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
    (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$root/$out/$name.tmp" "./cmd/$name")
    mv "$out/$name.tmp" "$out/$name"
done
