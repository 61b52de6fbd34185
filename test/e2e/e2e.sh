#!/usr/bin/env bash
# The seed document's flows, end to end, on a real Docker engine (`make e2e`).
# Each step of the seed is a checked step here. It runs the project's own
# Dockerfile and docker-compose.yml unchanged; where no registry can be
# reached, the two base images are local stand-ins (test/e2e/standin),
# passed only through VAULT_IMAGE and the GO_IMAGE build arg.
#
# It never touches a user's real stack. It works in a copy of the tree (so
# the checkout's .env and secrets/ are never read, moved or edited), under a
# compose project, container and volume names of its own (VAULT_NAME_PREFIX)
# and a port Docker picks (VAULT_PUBLISH). guard.sh holds decoys under the
# seed's names, or notes the developer's own stack, and checks at the end
# that all of it is as it was.
set -euo pipefail
# With pipefail, never end a pipe in `grep -q`: it exits at the first match,
# the writer dies of SIGPIPE, and the pipe fails although the line was found.
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/test/e2e/guard.sh"

COMPOSE=${COMPOSE:-$(docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)}
VERSION=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
export COMPOSE VERSION
# The e2e's own names: nothing here is a name of the seed's stack.
export COMPOSE_PROJECT_NAME=vault-init-e2e VAULT_NAME_PREFIX=e2e-
# Loopback, and a free port that Docker picks at each start.
export VAULT_PUBLISH=127.0.0.1:
V=${VAULT_NAME_PREFIX}vault VI=${VAULT_NAME_PREFIX}vault-init

step_no=0
step() { note_anonymous; step_no=$((step_no + 1)); echo; echo "=== e2e step $step_no: $*"; }
fail() {
    echo "FAIL (step $step_no): $*" >&2
    docker ps -a >&2 || true
    echo "--- $VI logs (secrets masked)" >&2
    docker logs "$VI" 2>&1 | sed -E 's/(Root Token: |App Token: |VAULT_TOKEN=|Unseal Key [0-9]+: |Recovery Key [0-9]+: )[^ ]+/\1<masked>/' | tail -40 >&2 || true
    echo "--- $V logs" >&2
    docker logs "$V" 2>&1 | tail -20 >&2 || true
    if docker inspect "${VAULT_NAME_PREFIX}local-kms" >/dev/null 2>&1; then
        echo "--- ${VAULT_NAME_PREFIX}local-kms logs" >&2
        docker logs "${VAULT_NAME_PREFIX}local-kms" 2>&1 | tail -10 >&2 || true
    fi
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
# url PATH: Vault's published address, looked up each time (the port is
# Docker's pick, and a restarted container may get another).
url() { echo "http://$(docker port "$V" 8200/tcp 2>/dev/null | head -n 1)$1"; }
sealed() { curl -s "$(url /v1/sys/seal-status)" | grep '"sealed":true' >/dev/null; }
unsealed() { curl -s "$(url /v1/sys/seal-status)" | grep '"sealed":false' >/dev/null; }
root_token() { docker logs "$VI" 2>&1 | grep "Root Token:" | awk '{print $3}'; }
mask() { sed -E 's/(hvs|hvb|s)\.[A-Za-z0-9._-]+/<masked>/g'; }
# env_token KIND WANT: `make env-token` (the seed's step 3) sets VAULT_TOKEN
# in .env to WANT, the KIND token, which works against this Vault; it says
# which token it wrote and never shows it; a second run leaves .env alone.
env_token() {
    local kind=$1 want=$2 out run got
    for run in 1 2; do
        out=$(make -s env-token 2>&1) || fail "make env-token (run $run) failed: $(mask <<<"$out")"
        case "$out" in *"$want"*) fail "make env-token (run $run) showed the token" ;; esac
        printf '%s\n' "$out"
        grep -F "the $kind token" <<<"$out" >/dev/null || fail "make env-token does not say it wrote the $kind token: $(mask <<<"$out")"
        [ $run = 1 ] || grep -F unchanged <<<"$out" >/dev/null || fail "a second make env-token did not leave .env as it was: $(mask <<<"$out")"
    done
    got=$(sed -n 's/^VAULT_TOKEN=//p' .env)
    [ "$got" = "$want" ] || fail ".env's VAULT_TOKEN is not the $kind token"
    curl -sf -H "X-Vault-Token: $got" "$(url /v1/auth/token/lookup-self)" >/dev/null || fail "the token make env-token wrote does not work"
}
# note_anonymous: remember the anonymous volumes of the e2e's containers (the
# Vault image declares VOLUME /vault/file), which `make down` and a
# recreation leave behind; noted at each step, the cleanup removes them, and
# no other.
note_anonymous() {
    docker inspect -f '{{range .Mounts}}{{if and (eq .Type "volume") (eq (len .Name) 64)}}{{println .Name}}{{end}}{{end}}' \
        "$V" "$VI" 2>/dev/null >>"$work/anonymous" || true
}

# The copy of the tree: what git tracks or would track (so no .env, secrets/
# or bin/), with the working tree's changes.
work=$(mktemp -d "${TMPDIR:-/tmp}/vault-init-e2e.XXXXXX")
tree=$work/tree
mkdir "$tree"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf -) | tar -C "$tree" -xf -
cleanup() {
    local rc=$?
    echo
    echo "e2e cleanup: removing the e2e's own stack ($COMPOSE_PROJECT_NAME, ${VAULT_NAME_PREFIX}*)"
    note_anonymous
    (cd "$tree" && $COMPOSE down -v --remove-orphans) >/dev/null 2>&1 || true
    sort -u "$work/anonymous" 2>/dev/null | while read -r vol; do
        [ -z "$vol" ] || docker volume rm "$vol" >/dev/null 2>&1 || true
    done
    if [ -n "${guard_state:-}" ]; then
        guard_check || rc=1
        guard_remove
    fi
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT

# Base images: the official ones when they can be pulled, else stand-ins.
if [ -z "${VAULT_IMAGE:-}" ] && ! docker pull -q hashicorp/vault:1.21.0 >/dev/null 2>&1; then
    echo "no registry: using local stand-ins for hashicorp/vault and golang"
    "$root/test/e2e/standin/build.sh" all
    export VAULT_IMAGE=vault-standin:1.21.0 GO_IMAGE=golang-standin:local
fi
echo "VAULT_IMAGE=${VAULT_IMAGE:-hashicorp/vault:1.21.0} GO_IMAGE=${GO_IMAGE:-golang (official)} compose: $COMPOSE ($($COMPOSE version --short 2>/dev/null || true))"
guard_start "e2e-$$-$(date +%s)" "${VAULT_IMAGE:-hashicorp/vault:1.21.0}" "$work/guard" "$root"
cd "$tree"
# Leftovers of an e2e run that was killed: the e2e's own names only.
make -s prod-local-clean >/dev/null 2>&1 || true
started=$SECONDS

step "make prod-local (first start)"
make prod-local || fail "make prod-local failed"

step "docker logs vault-init 2>&1 | grep \"Root Token:\" (here $VI)"
[ "$(docker logs "$VI" 2>&1 | grep -c "Root Token:")" = 1 ] || fail "want exactly one Root Token line"
token=$(root_token)
case "$token" in hvs.*) ;; *) fail "the Root Token line holds no hvs. token" ;; esac
curl -sf -H "X-Vault-Token: $token" "$(url /v1/auth/token/lookup-self)" >/dev/null || fail "the banner's token does not work"

step "Vault's port is published on 127.0.0.1 only; vault-init may finish a sys/init when stopped"
ports=$(docker port "$V" 8200/tcp)
[ -n "$ports" ] && ! grep -v '^127\.0\.0\.1:' <<<"$ports" >/dev/null || fail "Vault is published on: $ports"
grace=$(docker inspect -f '{{.Config.StopTimeout}}' "$VI")
[ "$grace" -ge 130 ] || fail "vault-init's stop timeout is ${grace}s, less than sys/init's 2 minutes and the save"

step "make env-token: VAULT_TOKEN in .env (with the opt-in audit device, a check interval), make down, make prod-local: no second init"
printf 'VAULT_INIT_AUDIT=file:/vault/logs/audit.log\nVAULT_TOKEN=hvs.stale\nVAULT_INIT_CHECK_INTERVAL=2s\n' > .env
chmod 0640 .env
env_token root "$token"
[ "$(cat .env)" = "$(printf 'VAULT_INIT_AUDIT=file:/vault/logs/audit.log\nVAULT_TOKEN=%s\nVAULT_INIT_CHECK_INTERVAL=2s' "$token")" ] ||
    fail "make env-token did not keep .env's other lines, in order, with VAULT_TOKEN in place"
[ "$(stat -c %a .env)" = 640 ] || fail "make env-token changed .env's mode to $(stat -c %a .env)"
make down || fail "make down failed"
make prod-local || fail "second make prod-local failed"
docker logs "$VI" 2>&1 | grep -E 'watching vault.*"check_interval": ?"2s"' >/dev/null || fail "VAULT_INIT_CHECK_INTERVAL=2s in .env did not reach vault-init"
[ "$(docker logs "$VI" 2>&1 | grep -c "Root Token:")" = 0 ] || fail "the banner was printed again"
docker logs "$VI" 2>&1 | grep "already initialized" >/dev/null || fail "no 'already initialized' log"
docker logs "$VI" 2>&1 | grep "initializing vault" >/dev/null && fail "vault-init initialized a second time"
unsealed || fail "vault is sealed after the restart"

step "docker exec vault vault kv put/get/list (here $V)"
docker exec "$V" vault kv put aurora/users/test-secret value='hello' || fail "kv put"
[ "$(docker exec "$V" vault kv get -field=value aurora/users/test-secret)" = hello ] || fail "kv get did not return hello"
docker exec "$V" vault kv list aurora/users/ | grep -x test-secret >/dev/null || fail "kv list does not show test-secret"
docker exec "$V" grep -q "aurora/data/users/test-secret" /vault/logs/audit.log || fail "the audit device did not record the write"

step "curl sys/health and vault token capabilities"
curl -sf "$(url /v1/sys/health)" >/dev/null || fail "sys/health does not answer 200"
docker exec "$V" vault token capabilities aurora/users/ | grep root >/dev/null || fail "token capabilities"

step "the UI at http://localhost:8200 (ui = true; here the e2e's port)"
ui=$(curl -sfL "$(url /ui/)") || fail "the UI at $(url /ui/) does not answer 200"
if grep -q "Vault UI is not available in this binary" <<<"$ui"; then
    # The stand-in's Vault is built from Go modules, which carry no UI assets:
    # the route is enabled, the pages themselves come only with official builds.
    echo "UI route enabled (this Vault build carries no UI assets; the official image does)"
else
    grep -qi "<html" <<<"$ui" || fail "the UI does not serve a page"
fi

unseals() { docker logs "$VI" 2>&1 | grep -c "vault unsealed" || true; }

step "vault operator seal: vault-init unseals by itself"
before=$(unseals)
docker exec "$V" vault operator seal || fail "operator seal"
until_ok 30 unsealed || fail "vault-init did not unseal after operator seal"
[ "$(unseals)" -gt "$before" ] || fail "no unseal logged"

step "vault-init stopped, seal, docker restart vault-init unseals"
docker stop "$VI" >/dev/null
docker exec "$V" vault operator seal || fail "operator seal"
sleep 2
sealed || fail "vault unsealed itself while vault-init was stopped"
docker restart "$VI" >/dev/null
until_ok 60 unsealed || fail "docker restart $VI did not unseal"

step "docker restart vault: sealed on boot, unsealed by vault-init"
before=$(unseals)
docker restart "$V" >/dev/null
until_ok 60 unsealed || fail "vault was not unsealed after docker restart vault"
[ "$(unseals)" -gt "$before" ] || fail "vault-init logged no unseal after the restart"

step "make down, make prod-local: the secret is still there"
make down || fail "make down"
docker volume inspect "${VAULT_NAME_PREFIX}vault-data" "${VAULT_NAME_PREFIX}vault-init" >/dev/null || fail "make down removed a volume"
make prod-local || fail "make prod-local"
[ "$(docker exec "$V" vault kv get -field=value aurora/users/test-secret)" = hello ] || fail "the secret is gone"

step "vault-init runs as non-root; init.json is 0600 in a 0700 dir"
user=$(docker inspect -f '{{.Config.User}}' "$VI")
case "$user" in ""|0|0:*|root|root:*) fail "vault-init runs as '$user'" ;; esac
pid=$(docker inspect -f '{{.State.Pid}}' "$VI")
uid=$(ps -o uid= -p "$pid" | tr -d ' ')
[ -n "$uid" ] && [ "$uid" != 0 ] || fail "the vault-init process runs as uid '$uid'"
modes=$(docker run --rm --entrypoint stat -v "${VAULT_NAME_PREFIX}vault-init:/v" "${VAULT_IMAGE:-hashicorp/vault:1.21.0}" -c '%a %u' /v /v/init.json)
[ "$modes" = "$(printf '700 65532\n600 65532')" ] || fail "volume modes: $modes"

step "production settings: app token, root revoked, keystore encrypted with age (make prod-local AGE=1)"
rm -rf secrets
recipient=$(make -s age-identity | tail -n 1)
case "$recipient" in age1*) ;; *) fail "make age-identity printed no recipient: $recipient" ;; esac
owner=$(stat -c '%u:%g %a' secrets/vault-init-age.txt)
[ "$owner" = "$(id -u):65532 440" ] || fail "the identity is '$owner', want yours, group 65532, mode 0440 (you can back it up, vault-init reads it)"
printf 'VAULT_INIT_APP_TOKEN=true\nVAULT_INIT_REVOKE_ROOT=true\nVAULT_INIT_AGE_RECIPIENT=%s\n' "$recipient" > .env
make prod-local AGE=1 || fail "make prod-local AGE=1 failed"
docker logs "$VI" 2>&1 | grep "encrypted the plaintext keystore with age" >/dev/null || fail "the keystore was not migrated"
files=$(docker run --rm --entrypoint ls -v "${VAULT_NAME_PREFIX}vault-init:/v" "${VAULT_IMAGE:-hashicorp/vault:1.21.0}" /v)
grep -x init.json.age <<<"$files" >/dev/null || fail "no init.json.age in the volume: $files"
grep -x init.json <<<"$files" >/dev/null && fail "plaintext init.json is still in the volume"
app=$(docker exec "$VI" vault-init app-token) || fail "vault-init app-token"
docker logs "$VI" 2>&1 | grep "IMPORTANT: Set VAULT_TOKEN=$app in your .env file" >/dev/null || fail "no banner with the app token"
env_token app "$app"
[ "$(cat .env)" = "$(printf 'VAULT_INIT_APP_TOKEN=true\nVAULT_INIT_REVOKE_ROOT=true\nVAULT_INIT_AGE_RECIPIENT=%s\nVAULT_TOKEN=%s' "$recipient" "$app")" ] ||
    fail "make env-token did not append the app token to .env's lines"
curl -sf -H "X-Vault-Token: $app" -X POST -d '{"data":{"value":"app"}}' "$(url /v1/aurora/data/users/app-secret)" >/dev/null || fail "the app token cannot write under users/"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Vault-Token: $app" "$(url /v1/sys/mounts)")
[ "$code" = 403 ] || fail "the app token reads sys/mounts (HTTP $code)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Vault-Token: $token" "$(url /v1/auth/token/lookup-self)")
[ "$code" = 403 ] || fail "the first root token still works after revocation (HTTP $code)"
docker exec "$VI" vault-init root-token >/dev/null 2>&1 && fail "root-token printed a token after revocation"
before=$(unseals)
docker restart "$V" >/dev/null
until_ok 60 unsealed || fail "the encrypted keystore did not unseal vault after a restart"
[ "$(unseals)" -gt "$before" ] || fail "no unseal logged"
docker exec "$VI" vault-init healthcheck || fail "healthcheck fails with the root token revoked"

step "make prod-local-clean removes both volumes; the next start initializes afresh"
make prod-local-clean || fail "make prod-local-clean"
docker volume inspect "${VAULT_NAME_PREFIX}vault-data" >/dev/null 2>&1 && fail "vault-data survived prod-local-clean"
docker volume inspect "${VAULT_NAME_PREFIX}vault-init" >/dev/null 2>&1 && fail "vault-init survived prod-local-clean"
cp -p .env "$work/env.before"
make -s env-token >"$work/env-token.out" 2>&1 && fail "make env-token succeeded with no stack"
cmp -s .env "$work/env.before" || fail "a make env-token that failed changed .env"
grep -F "$app" "$work/env-token.out" >/dev/null && fail "a make env-token that failed showed the token"
rm -f .env
make prod-local || fail "make prod-local after clean"
new=$(root_token)
[ -n "$new" ] && [ "$new" != "$token" ] || fail "no fresh init after prod-local-clean"
env_token root "$new"
[ "$(stat -c %a .env)" = 600 ] || fail "make env-token created .env with mode $(stat -c %a .env), want 600"

step "make prod-local KMS=aws (AWS KMS here a local-kms stand-in): recovery keys, and docker restart vault unseals itself"
# The overlay as a user runs it, with its endpoint pointed at local-kms on the
# stack's network (test/e2e/docker-compose.localkms.yml). A fresh Vault: an
# initialized Shamir one would need a seal migration instead.
LOCALKMS_IMAGE=$("$root/test/e2e/standin/build.sh" localkms | tail -n 1) || fail "building the local-kms stand-in failed"
export LOCALKMS_IMAGE
kms=(KMS=aws COMPOSE_OVERLAYS=test/e2e/docker-compose.localkms.yml)
make prod-local-clean || fail "make prod-local-clean before KMS=aws"
printf 'AWS_REGION=us-east-1\nVAULT_AWSKMS_SEAL_KEY_ID=%s\nAWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=secretexample\n' \
    6e6f9c3a-6b1e-4f5e-9d8a-e2e0c0ffee01 > .env
make prod-local "${kms[@]}" || fail "make prod-local KMS=aws failed"
st=$(curl -s "$(url /v1/sys/seal-status)")
for want in '"type":"awskms"' '"initialized":true' '"sealed":false' '"recovery_seal":true' '"t":3' '"n":5'; do
    grep -F "$want" <<<"$st" >/dev/null || fail "seal-status lacks $want: $st"
done
[ "$(docker logs "$VI" 2>&1 | grep -c "Root Token:")" = 1 ] || fail "want exactly one Root Token line"
docker logs "$VI" 2>&1 | grep -E 'unseal keys and root token saved.*"keys": 0, "recovery_keys": 5' >/dev/null ||
    fail "vault-init did not save 5 recovery keys and no unseal keys"
status=$(docker exec "$VI" vault-init status) || fail "vault-init status: $(mask <<<"$status")"
grep -E 'seal +awskms \(recovery keys: 5 shares, threshold 3\)' <<<"$status" >/dev/null || fail "vault-init status does not show the awskms keystore: $(mask <<<"$status")"
venv=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$V")
for want in VAULT_SEAL_TYPE=awskms AWS_REGION=us-east-1 VAULT_AWSKMS_SEAL_KEY_ID=6e6f9c3a-6b1e-4f5e-9d8a-e2e0c0ffee01 AWS_KMS_ENDPOINT=http://local-kms:8080; do
    grep -x "$want" <<<"$venv" >/dev/null || fail "the overlay's $want did not reach Vault"
done
before=$(unseals)
docker restart "$V" >/dev/null
until_ok 60 unsealed || fail "vault did not unseal itself through the KMS after docker restart"
[ "$(unseals)" = "$before" ] || fail "vault-init unsealed an auto-unseal Vault (it must never submit recovery keys)"

step "seal migration (docs/keys.md): a Shamir stack with a secret, make prod-local KMS=aws on its volumes, vault-init migrate"
# The documented way from the local stack to the KMS seal, as an operator
# walks it. The stand-in local-kms of the step before keeps running: the plain
# stack does not use it, make prod-local-clean (docker-compose.yml's services
# only) leaves it, the e2e's cleanup removes it.
# logged_since TIME TEXT: how many lines of vault-init's log since TIME hold TEXT.
logged_since() { docker logs --since "$1" "$VI" 2>&1 | grep -cF "$2" || true; }
seal_has() {
    local st want
    st=$(curl -s "$(url /v1/sys/seal-status)")
    for want in "$@"; do grep -F "$want" <<<"$st" >/dev/null || { echo "seal-status lacks $want: $st"; return 1; }; done
}
make prod-local-clean || fail "make prod-local-clean before the Shamir stack"
rm -f .env
make prod-local || fail "make prod-local (Shamir) failed"
why=$(seal_has '"type":"shamir"' '"sealed":false' '"recovery_seal":false') || fail "the plain stack: $why"
mtoken=$(root_token)
docker exec -e VAULT_TOKEN="$mtoken" "$V" vault kv put aurora/users/before-migration value=shamir || fail "kv put on the Shamir stack"
# docs/keys.md step 2: the KMS settings in .env, and make prod-local KMS=aws,
# which recreates Vault only; Vault then waits for the migration.
printf 'AWS_REGION=us-east-1\nVAULT_AWSKMS_SEAL_KEY_ID=%s\nAWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=secretexample\n' \
    6e6f9c3a-6b1e-4f5e-9d8a-e2e0c0ffee01 > .env
since=$(date +%s)
rc=0
out=$(make prod-local "${kms[@]}" 2>&1) || rc=$?
# make's wait sees the waiting migration, says how to finish it, and fails.
[ "$rc" != 0 ] && grep -qF "docker exec $VI vault-init migrate" <<<"$out" ||
    fail "make prod-local KMS=aws on a Shamir Vault: exit $rc, without the migration advice: $(tail -5 <<<"$out")"
grep -F 'seal migration' <<<"$out"
until_ok 60 seal_has '"migration":true' || fail "vault does not wait for a seal migration: $(seal_has '"migration":true')"
why=$(seal_has '"type":"awskms"' '"sealed":true' '"recovery_seal":true' '"progress":0') || fail "while the migration waits: $why"
says_migrate() { [ "$(logged_since "$since" 'run `vault-init migrate`')" -gt 0 ]; }
until_ok 30 says_migrate || fail "vault-init does not say to run vault-init migrate"
[ "$(logged_since "$since" "vault unsealed")" = 0 ] || fail "vault-init unsealed a Vault that waits for a migration"
docker logs --since "$since" "$VI" 2>&1 | grep -F 'run `vault-init migrate`' | sed -n 1p
# docs/keys.md step 3.
out=$(docker exec "$VI" vault-init migrate) || fail "vault-init migrate failed: $(mask <<<"$out")"
echo "$out"
grep -Ex 'migrated http://vault:8200 from seal shamir to awskms: the keystore.s 5 shares \(threshold 3\) are now its recovery keys' <<<"$out" >/dev/null ||
    fail "vault-init migrate did not report the migration: $(mask <<<"$out")"
# docs/keys.md step 4.
why=$(seal_has '"type":"awskms"' '"sealed":false' '"recovery_seal":true' '"migration":false') || fail "after vault-init migrate: $why"
status=$(docker exec "$VI" vault-init status) || fail "vault-init status after the migration: $(mask <<<"$status")"
grep -E 'seal +awskms \(recovery keys: 5 shares, threshold 3\)' <<<"$status" >/dev/null || fail "vault-init status does not show the migrated keystore: $(mask <<<"$status")"
[ "$(docker exec -e VAULT_TOKEN="$mtoken" "$V" vault kv get -field=value aurora/users/before-migration)" = shamir ] || fail "the secret written before the migration does not read back"
out=$(docker exec "$VI" vault-init migrate) || fail "a second vault-init migrate failed: $(mask <<<"$out")"
grep -F "nothing to migrate" <<<"$out" >/dev/null || fail "a second vault-init migrate did not say nothing to migrate: $(mask <<<"$out")"
until_ok 60 docker exec "$VI" vault-init healthcheck || fail "vault-init is not healthy after the migration"
since=$(date +%s)
docker restart "$V" >/dev/null
until_ok 60 unsealed || fail "the migrated vault did not unseal itself after docker restart"
why=$(seal_has '"type":"awskms"' '"recovery_seal":true') || fail "after docker restart vault: $why"
[ "$(logged_since "$since" "vault unsealed")" = 0 ] || fail "vault-init unsealed the migrated vault after docker restart (it must never submit recovery keys)"
[ "$(docker exec -e VAULT_TOKEN="$mtoken" "$V" vault kv get -field=value aurora/users/before-migration)" = shamir ] || fail "the secret is gone after docker restart vault"

step "the seed's names (volumes vault-data, vault-init, vault-logs; containers vault, vault-init), .env and secrets/ are untouched"
guard_check || fail "the e2e touched what is not its own"

echo
echo "e2e: all $step_no steps passed in $((SECONDS - started))s"
