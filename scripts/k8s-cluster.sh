#!/usr/bin/env bash
# k8s-cluster.sh: a throwaway single-node Kubernetes for the tests, the recipe
# of the k8s test ground (docs of issue 15), run as root on this machine.
#
#   k8s-cluster.sh up DIR            certs, tokens, kubeconfigs, a second
#       containerd with CRI, pause image, cni0 10.244.0.1/24, etcd, the
#       control plane, kubelet, kube-proxy, CoreDNS; waits for node1 Ready and
#       the default ServiceAccount; prints DIR/admin.kubeconfig.
#   k8s-cluster.sh import DIR IMAGE...   docker save IMAGE | ctr import (k8s.io);
#       pods use imagePullPolicy: Never.
#   k8s-cluster.sh down DIR          stops everything `up` started, by the PIDs
#       in DIR/pids, and removes cni0, the KUBE-*/CNI-* iptables chains and the
#       mounts under DIR. DIR itself (logs) stays; `rm -rf DIR` after down.
#
# Everything lives under DIR except what the kernel holds (cni0, iptables,
# /var/run/netns/cni-*) and the kubelet's /var/log/pods. Docker's own
# containerd is never touched: nothing is stopped by name.
# Ports: etcd 127.0.0.1:23790/23800, API https://10.244.0.1:6443, DNS 10.244.0.1:53.
# Needs: openssl, go, docker, ctr, iptables, ip, and /usr/lib/cni (Debian
# containernetworking-plugins). Binaries from bin/ (scripts/build-k8s.sh).
#
# VERIFIED 2026-12-06 on this machine (2 cores, Debian 12, cgroup v1, root):
# cold `up` 9 s with bin/ cached; node1 Ready and untainted; test/k8s/cluster/
# smoke.sh: vault-init:local `version` ran to Succeeded (imagePullPolicy:
# Never), `kubectl logs` worked, a pod resolved kubernetes.default.svc.
# cluster.local to 10.96.0.1 via CoreDNS; `down` (5-6 s, also with a pod still
# Running) left no process, mount, netns, cni0 or KUBE-/CNI- rule, iptables
# as before, and `docker run --rm vault-init:local version` worked after.
# `make test-k8s` (test/k8s) runs the Helm chart in it: pods reach each other
# and the API server through 10.96.0.1, `kubectl exec` works, and the API
# server's audit log (DIR/logs/audit.log, Secrets only, metadata) names who
# wrote a Secret. NOT verified here: IPv6, two clusters at once (up refuses
# while cni0 or any KUBE-*/CNI-* chain exists).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
K8S_VERSION=${K8S_VERSION:-1.34.3}
kbin=$root/bin/k8s-$K8S_VERSION
# The Makefile's ETCD_BIN, KUBE_APISERVER_BIN and KUBECTL_BIN win, as in the tests.
etcd=${ETCD_BIN:-$root/bin/etcd-3.6.5}
apiserver=${KUBE_APISERVER_BIN:-$kbin/kube-apiserver}
kubectl=${KUBECTL_BIN:-$kbin/kubectl}
coredns=${COREDNS_BIN:-$root/bin/coredns-1.14.7/coredns}
tmpl=$root/test/k8s/cluster
api=https://10.244.0.1:6443

die() { echo "k8s-cluster: $*" >&2; exit 1; }
log() { echo "k8s-cluster: $*" >&2; }

# wait_for SECONDS WHAT CMD...: retry CMD once a second until it succeeds.
wait_for() {
    local secs=$1 what=$2; shift 2
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || die "timed out after ${secs}s waiting for $what (logs: $dir/logs)"
        sleep 1
    done
}

# start NAME CMD...: run CMD detached, log to DIR/logs/NAME.log, record its PID.
start() {
    local name=$1; shift
    setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
    echo "$name $!" >>"$dir/pids"
}

# ours PID: true if PID is alive and its command line names DIR, so a reused
# PID (or Docker's containerd) is never signalled.
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$dir/"; }

# stop NAME: SIGTERM the recorded process NAME, SIGKILL after 15 s.
stop() {
    local pid
    pid=$(awk -v n="$1" '$1 == n {print $2}' "$dir/pids" 2>/dev/null | tail -n1)
    [ -n "$pid" ] && ours "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 30); do ours "$pid" || return 0; sleep 0.5; done
    log "$1 ($pid) ignored SIGTERM; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

kubeconfig() { # kubeconfig FILE TOKEN
    (umask 077; cat >"$1") <<EOF
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: $api, certificate-authority: $dir/pki/ca.crt}}]
users: [{name: user, user: {token: $2}}]
contexts: [{name: default, context: {cluster: local, user: user}}]
current-context: default
EOF
}

render() { sed "s#@DIR@#$dir#g" "$tmpl/$1" >"$2"; }

ctr_() { ctr -a "$dir/containerd.sock" -n k8s.io "$@"; }
kc() { "$kubectl" --kubeconfig "$dir/admin.kubeconfig" "$@"; }
# untainted: node1 exists and carries no taint (the controller manager lifts
# not-ready a moment after Ready), so a pod created next is scheduled at once.
untainted() { local t; t=$(kc get node node1 -o jsonpath='{.spec.taints}') && [ -z "$t" ]; }

pki() {
    local p=$dir/pki
    mkdir -p "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$p/ca.key" -out "$p/ca.crt" \
        -days 7 -subj /CN=k8s-test-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$p/apiserver.key" -out "$p/apiserver.csr" \
        -subj /CN=kube-apiserver 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" \
        "subjectAltName=IP:10.244.0.1,IP:10.96.0.1,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
        >"$p/apiserver.ext"
    openssl x509 -req -in "$p/apiserver.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
        -days 7 -extfile "$p/apiserver.ext" -out "$p/apiserver.crt" 2>/dev/null
    openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
    openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
    chmod 600 "$p"/*.key
}

# tokens: one static token per identity (--token-auth-file). The admin token
# (system:masters) is the test's, in DIR/admin.token. The controller manager
# and CoreDNS get masters too, which a throwaway cluster can afford: with
# --use-service-account-credentials=false the system:kube-controller-manager
# role alone cannot patch nodes, so node1 keeps its not-ready taint.
tokens() {
    local id user group t
    (umask 077; : >"$dir/tokens.csv")
    while read -r id user group; do
        t=$(openssl rand -hex 24)
        echo "$t,$user,$id${group:+,\"$group\"}" >>"$dir/tokens.csv"
        kubeconfig "$dir/$id.kubeconfig" "$t"
        [ "$id" != admin ] || (umask 077; printf '%s' "$t" >"$dir/admin.token")
    done <<'EOF2'
admin admin system:masters
kcm system:kube-controller-manager system:masters
sched system:kube-scheduler
kubelet system:node:node1 system:nodes
proxy system:kube-proxy
coredns coredns system:masters
EOF2
}

pause_image() {
    mkdir -p "$dir/pause-root"
    (cd "$tmpl/pause" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$dir/pause-root/pause" .)
    tar -C "$dir/pause-root" -c . |
        docker import --change 'ENTRYPOINT ["/pause"]' - docker.io/library/pause:local >/dev/null
}

import_images() {
    local img
    for img in "$@"; do
        log "import $img"
        docker save "$img" | ctr_ images import - >/dev/null
    done
}

up() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    [ -d /usr/lib/cni ] || die "/usr/lib/cni missing: apt-get install -y containernetworking-plugins"
    for b in "$etcd" "$apiserver" "$kubectl" "$coredns" "$kbin"/{kube-controller-manager,kube-scheduler,kubelet,kube-proxy}; do
        [ -x "$b" ] || die "missing $b (make k8s-bins)"
    done
    if [ -f "$dir/pids" ]; then
        while read -r _ pid; do ours "$pid" && die "$dir already has a running cluster; down it first"; done <"$dir/pids"
    fi
    ip link show cni0 >/dev/null 2>&1 && die "cni0 exists: another cluster is up (or down did not finish)"
    # down removes every KUBE-* and CNI-* chain: refuse to start where somebody
    # else's are (a kube-proxy, podman's CNI), so that down never takes theirs.
    local foreign
    foreign=$(for t in filter nat mangle; do iptables -t "$t" -S 2>/dev/null; done | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ {print $2}' | head -3 | tr '\n' ' ')
    [ -z "$foreign" ] || die "iptables already has chains $foreign(another Kubernetes or CNI user): down would remove them"
    mkdir -p "$dir" && chmod 700 "$dir"
    rm -f "$dir/pids"
    trap 'rc=$?; [ $rc = 0 ] || log "up failed; logs in $dir/logs; clean up with: $0 down $dir"' EXIT
    mkdir -p "$dir/logs" "$dir/cni" "$dir/etcd"
    pki
    tokens
    render containerd.toml "$dir/containerd.toml"
    render 10-k8s.conflist "$dir/cni/10-k8s.conflist"
    render kubelet.yaml "$dir/kubelet.yaml"
    render Corefile "$dir/Corefile"
    render audit-policy.yaml "$dir/audit-policy.yaml"

    ip link add cni0 type bridge
    ip addr add 10.244.0.1/24 dev cni0
    ip link set cni0 up
    # The kubelet's API (10250) answers anyone (anonymous, AlwaysAllow: see
    # kubelet.yaml): only the API server, on this host, may reach it; pods and
    # containers may not (exec into any pod would be open to them).
    iptables -N KUBE-TEST-KUBELET-GUARD
    iptables -A KUBE-TEST-KUBELET-GUARD ! -i lo -p tcp --dport 10250 -j DROP
    iptables -I INPUT -j KUBE-TEST-KUBELET-GUARD

    start containerd containerd --config "$dir/containerd.toml"
    wait_for 30 containerd ctr -a "$dir/containerd.sock" version
    pause_image
    import_images docker.io/library/pause:local

    start etcd "$etcd" --name node1 --data-dir "$dir/etcd" \
        --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
        --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
        --initial-cluster node1=http://127.0.0.1:23800
    local p=$dir/pki
    start kube-apiserver "$apiserver" --etcd-servers=http://127.0.0.1:23790 \
        --bind-address=10.244.0.1 --advertise-address=10.244.0.1 --secure-port=6443 \
        --service-cluster-ip-range=10.96.0.0/16 --allow-privileged=true \
        --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
        --client-ca-file="$p/ca.crt" --token-auth-file="$dir/tokens.csv" \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
        --authorization-mode=Node,RBAC --kubelet-preferred-address-types=InternalIP \
        --audit-policy-file="$dir/audit-policy.yaml" --audit-log-path="$dir/logs/audit.log"
    wait_for 120 "kube-apiserver /readyz" kc get --raw /readyz

    start kube-controller-manager "$kbin/kube-controller-manager" --kubeconfig="$dir/kcm.kubeconfig" \
        --leader-elect=false --service-account-private-key-file="$p/sa.key" \
        --root-ca-file="$p/ca.crt" --use-service-account-credentials=false --secure-port=0
    start kube-scheduler "$kbin/kube-scheduler" --kubeconfig="$dir/sched.kubeconfig" \
        --leader-elect=false --secure-port=0
    start kubelet "$kbin/kubelet" --config="$dir/kubelet.yaml" --kubeconfig="$dir/kubelet.kubeconfig" \
        --container-runtime-endpoint="unix://$dir/containerd.sock" --hostname-override=node1 \
        --node-ip=10.244.0.1 --root-dir="$dir/kubelet"
    start kube-proxy "$kbin/kube-proxy" --kubeconfig="$dir/proxy.kubeconfig" --proxy-mode=iptables \
        --cluster-cidr=10.244.0.0/16 --hostname-override=node1 --conntrack-max-per-core=0 \
        --healthz-bind-address=127.0.0.1:10256 --metrics-bind-address=127.0.0.1:10249
    start coredns "$coredns" -conf "$dir/Corefile"

    wait_for 120 "node node1" kc get node node1
    wait_for 120 "node1 Ready" kc wait --for=condition=Ready node/node1 --timeout=5s
    wait_for 60 "node1 without taints" untainted
    wait_for 120 "default ServiceAccount" kc get serviceaccount default -n default
    trap - EXIT
    echo "$dir/admin.kubeconfig"
}

# clean_iptables: drop every rule that jumps to a KUBE-* or CNI-* chain or
# carries our CNI network's comment, then those chains. Docker's DOCKER*
# chains are not matched.
clean_iptables() {
    local cmd table line chain
    for cmd in iptables ip6tables; do
        command -v "$cmd" >/dev/null || continue
        for table in filter nat mangle; do
            $cmd -t "$table" -S >/dev/null 2>&1 || continue
            $cmd -t "$table" -S | grep -E '^-A .*(-j (KUBE-|CNI-)|name: \\"k8s\\")' |
                while IFS= read -r line; do eval "$cmd -t $table ${line/#-A/-D}" 2>/dev/null || true; done || true
            for chain in $($cmd -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ {print $2}'); do
                $cmd -t "$table" -F "$chain" 2>/dev/null || true
            done
            for chain in $($cmd -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ {print $2}'); do
                $cmd -t "$table" -X "$chain" 2>/dev/null || true
            done
        done
    done
}

down() {
    [ -f "$dir/pids" ] || die "no $dir/pids: nothing to stop"
    local pid id ns
    # Let the kubelet tear its pods down itself (CNI DEL, unmounts) while it can.
    stop kube-controller-manager
    if kc get --raw /readyz >/dev/null 2>&1; then
        kc delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1 || true
        for _ in $(seq 60); do
            [ -z "$(ctr_ tasks ls -q 2>/dev/null)" ] && break
            sleep 1
        done
    fi
    for n in coredns kube-proxy kubelet kube-scheduler kube-apiserver etcd; do stop "$n"; done
    if ctr -a "$dir/containerd.sock" version >/dev/null 2>&1; then
        for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -a -s SIGKILL "$id" 2>/dev/null || true; done
        sleep 1
        for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
    fi
    stop containerd
    # Shims of our containerd name its socket; none of Docker's do.
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "-address $dir/containerd.sock" &&
            kill -KILL "$pid" 2>/dev/null || true
    done
    "$kbin/kube-proxy" --cleanup >"$dir/logs/kube-proxy-cleanup.log" 2>&1 || true
    clean_iptables
    # Pod network namespaces the CRI pinned and nobody tore down: only ours (10.244.0.0/24).
    for ns in $(ls /var/run/netns 2>/dev/null | grep '^cni-' || true); do
        ip netns exec "$ns" ip -4 -o addr show 2>/dev/null | grep -q ' 10\.244\.0\.' && ip netns delete "$ns" || true
    done
    ip link del cni0 2>/dev/null || true
    awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    mv "$dir/pids" "$dir/pids.down"
    log "down: $dir (logs kept)"
}

# Sourced (for a test of its functions): define them, run nothing.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0
[ $# -ge 2 ] || die "usage: $0 up|down DIR | import DIR IMAGE..."
cmd=$1
dir=$(realpath -m "$2")
shift 2
case $cmd in
up) up ;;
down) down ;;
import) import_images "$@" ;;
*) die "unknown command $cmd" ;;
esac
