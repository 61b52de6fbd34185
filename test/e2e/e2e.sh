#!/usr/bin/env bash
# The seed document's flows, end to end, on a real Docker engine (`make e2e`).
# Each step of the seed is a checked step here. It runs the project's own
# Dockerfile and docker-compose.yml unchanged; where no registry can be
# reached, the two base images are local stand-ins (test/e2e/standin),
# passed only through VAULT_IMAGE and the GO_IMAGE build arg.
set -euo pipefail
# With pipefail, never end a pipe in `grep -q`: it exits at the first match,
# the writer dies of SIGPIPE, and the pipe fails although the line was found.
cd "$(dirname "$0")/../.."

COMPOSE=${COMPOSE:-$(docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)}
export COMPOSE

step_no=0
step() { step_no=$((step_no + 1)); echo; echo "=== e2e step $step_no: $*"; }
fail() {
    echo "FAIL (step $step_no): $*" >&2
    docker ps -a >&2 || true
    echo "--- vault-init logs (secrets masked)" >&2
    docker logs vault-init 2>&1 | sed -E 's/(Root Token: |VAULT_TOKEN=)[^ ]+/\1<masked>/' | tail -40 >&2 || true
    echo "--- vault logs" >&2
    docker logs vault 2>&1 | tail -20 >&2 || true
    exit 1
}
# until SECONDS CMD...: retry CMD until it succeeds or SECONDS pass.
until_ok() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.2
    done
}
sealed() { curl -s http://localhost:8200/v1/sys/seal-status | grep '"sealed":true' >/dev/null; }
unsealed() { curl -s http://localhost:8200/v1/sys/seal-status | grep '"sealed":false' >/dev/null; }
root_token() { docker logs vault-init 2>&1 | grep "Root Token:" | awk '{print $3}'; }

# Keep a developer's own .env out of harm's way.
if [ -f .env ]; then mv .env .env.e2e-backup; fi
if [ -e secrets ]; then mv secrets secrets.e2e-backup; fi
cleanup() {
    make -s prod-local-clean >/dev/null 2>&1 || true
    rm -f .env
    rm -rf secrets
    if [ -f .env.e2e-backup ]; then mv .env.e2e-backup .env; fi
    if [ -e secrets.e2e-backup ]; then mv secrets.e2e-backup secrets; fi
}
trap cleanup EXIT

# Base images: the official ones when they can be pulled, else stand-ins.
if [ -z "${VAULT_IMAGE:-}" ] && ! docker pull -q hashicorp/vault:1.21.0 >/dev/null 2>&1; then
    echo "no registry: using local stand-ins for hashicorp/vault and golang"
    test/e2e/standin/build.sh all
    export VAULT_IMAGE=vault-standin:1.21.0 GO_IMAGE=golang-standin:local
fi
echo "VAULT_IMAGE=${VAULT_IMAGE:-hashicorp/vault:1.21.0} GO_IMAGE=${GO_IMAGE:-golang (official)} compose: $COMPOSE"
make -s prod-local-clean >/dev/null 2>&1 || true
started=$SECONDS

step "make prod-local (first start)"
make prod-local || fail "make prod-local failed"

step 'docker logs vault-init 2>&1 | grep "Root Token:"'
[ "$(docker logs vault-init 2>&1 | grep -c "Root Token:")" = 1 ] || fail "want exactly one Root Token line"
token=$(root_token)
case "$token" in hvs.*) ;; *) fail "the Root Token line holds no hvs. token" ;; esac
curl -sf -H "X-Vault-Token: $token" http://localhost:8200/v1/auth/token/lookup-self >/dev/null || fail "the banner's token does not work"

step "VAULT_TOKEN (and the opt-in audit device) in .env, make down, make prod-local: no second init"
printf 'VAULT_TOKEN=%s\nVAULT_INIT_AUDIT=file:/vault/logs/audit.log\n' "$token" > .env
make down || fail "make down failed"
make prod-local || fail "second make prod-local failed"
[ "$(docker logs vault-init 2>&1 | grep -c "Root Token:")" = 0 ] || fail "the banner was printed again"
docker logs vault-init 2>&1 | grep "already initialized" >/dev/null || fail "no 'already initialized' log"
docker logs vault-init 2>&1 | grep "initializing vault" >/dev/null && fail "vault-init initialized a second time"
unsealed || fail "vault is sealed after the restart"

step "docker exec vault vault kv put/get/list"
docker exec vault vault kv put aurora/users/test-secret value='hello' || fail "kv put"
[ "$(docker exec vault vault kv get -field=value aurora/users/test-secret)" = hello ] || fail "kv get did not return hello"
docker exec vault vault kv list aurora/users/ | grep -x test-secret >/dev/null || fail "kv list does not show test-secret"
docker exec vault grep -q "aurora/data/users/test-secret" /vault/logs/audit.log || fail "the audit device did not record the write"

step "curl sys/health and vault token capabilities"
curl -sf http://localhost:8200/v1/sys/health >/dev/null || fail "sys/health does not answer 200"
docker exec vault vault token capabilities aurora/users/ | grep root >/dev/null || fail "token capabilities"

step "the UI at http://localhost:8200 (ui = true)"
ui=$(curl -sfL http://localhost:8200/ui/) || fail "http://localhost:8200/ui/ does not answer 200"
if grep -q "Vault UI is not available in this binary" <<<"$ui"; then
    # The stand-in's Vault is built from Go modules, which carry no UI assets:
    # the route is enabled, the pages themselves come only with official builds.
    echo "UI route enabled (this Vault build carries no UI assets; the official image does)"
else
    grep -qi "<html" <<<"$ui" || fail "the UI does not serve a page"
fi

unseals() { docker logs vault-init 2>&1 | grep -c "vault unsealed" || true; }

step "vault operator seal: vault-init unseals by itself"
before=$(unseals)
docker exec vault vault operator seal || fail "operator seal"
until_ok 30 unsealed || fail "vault-init did not unseal after operator seal"
[ "$(unseals)" -gt "$before" ] || fail "no unseal logged"

step "vault-init stopped, seal, docker restart vault-init unseals"
docker stop vault-init >/dev/null
docker exec vault vault operator seal || fail "operator seal"
sleep 2
sealed || fail "vault unsealed itself while vault-init was stopped"
docker restart vault-init >/dev/null
until_ok 60 unsealed || fail "docker restart vault-init did not unseal"

step "docker restart vault: sealed on boot, unsealed by vault-init"
before=$(unseals)
docker restart vault >/dev/null
until_ok 60 unsealed || fail "vault was not unsealed after docker restart vault"
[ "$(unseals)" -gt "$before" ] || fail "vault-init logged no unseal after the restart"

step "make down, make prod-local: the secret is still there"
make down || fail "make down"
docker volume inspect vault-data vault-init >/dev/null || fail "make down removed a volume"
make prod-local || fail "make prod-local"
[ "$(docker exec vault vault kv get -field=value aurora/users/test-secret)" = hello ] || fail "the secret is gone"

step "vault-init runs as non-root; init.json is 0600 in a 0700 dir"
user=$(docker inspect -f '{{.Config.User}}' vault-init)
case "$user" in ""|0|0:*|root|root:*) fail "vault-init runs as '$user'" ;; esac
pid=$(docker inspect -f '{{.State.Pid}}' vault-init)
uid=$(ps -o uid= -p "$pid" | tr -d ' ')
[ -n "$uid" ] && [ "$uid" != 0 ] || fail "the vault-init process runs as uid '$uid'"
modes=$(docker run --rm --entrypoint stat -v vault-init:/v "${VAULT_IMAGE:-hashicorp/vault:1.21.0}" -c '%a %u' /v /v/init.json)
[ "$modes" = "$(printf '700 65532\n600 65532')" ] || fail "volume modes: $modes"

step "production settings: app token, root revoked, keystore encrypted with age (make prod-local AGE=1)"
rm -rf secrets
recipient=$(make -s age-identity | tail -n 1)
case "$recipient" in age1*) ;; *) fail "make age-identity printed no recipient: $recipient" ;; esac
printf 'VAULT_INIT_APP_TOKEN=true\nVAULT_INIT_REVOKE_ROOT=true\nVAULT_INIT_AGE_RECIPIENT=%s\n' "$recipient" > .env
make prod-local AGE=1 || fail "make prod-local AGE=1 failed"
docker logs vault-init 2>&1 | grep "encrypted the plaintext keystore with age" >/dev/null || fail "the keystore was not migrated"
files=$(docker run --rm --entrypoint ls -v vault-init:/v "${VAULT_IMAGE:-hashicorp/vault:1.21.0}" /v)
grep -x init.json.age <<<"$files" >/dev/null || fail "no init.json.age in the volume: $files"
grep -x init.json <<<"$files" >/dev/null && fail "plaintext init.json is still in the volume"
app=$(docker exec vault-init vault-init app-token) || fail "vault-init app-token"
docker logs vault-init 2>&1 | grep "IMPORTANT: Set VAULT_TOKEN=$app in your .env file" >/dev/null || fail "no banner with the app token"
curl -sf -H "X-Vault-Token: $app" -X POST -d '{"data":{"value":"app"}}' http://localhost:8200/v1/aurora/data/users/app-secret >/dev/null || fail "the app token cannot write under users/"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Vault-Token: $app" http://localhost:8200/v1/sys/mounts)
[ "$code" = 403 ] || fail "the app token reads sys/mounts (HTTP $code)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Vault-Token: $token" http://localhost:8200/v1/auth/token/lookup-self)
[ "$code" = 403 ] || fail "the first root token still works after revocation (HTTP $code)"
docker exec vault-init vault-init root-token >/dev/null 2>&1 && fail "root-token printed a token after revocation"
before=$(unseals)
docker restart vault >/dev/null
until_ok 60 unsealed || fail "the encrypted keystore did not unseal vault after a restart"
[ "$(unseals)" -gt "$before" ] || fail "no unseal logged"
docker exec vault-init vault-init healthcheck || fail "healthcheck fails with the root token revoked"

step "make prod-local-clean removes both volumes; the next start initializes afresh"
make prod-local-clean || fail "make prod-local-clean"
docker volume inspect vault-data >/dev/null 2>&1 && fail "vault-data survived prod-local-clean"
docker volume inspect vault-init >/dev/null 2>&1 && fail "vault-init survived prod-local-clean"
rm -f .env
make prod-local || fail "make prod-local after clean"
new=$(root_token)
[ -n "$new" ] && [ "$new" != "$token" ] || fail "no fresh init after prod-local-clean"

echo
echo "e2e: all $step_no steps passed in $((SECONDS - started))s"
