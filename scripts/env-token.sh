#!/usr/bin/env bash
# env-token.sh CONTAINER [ENV_FILE]: the seed's step 3 ("Add to .env") without
# copy and paste (`make env-token`). It reads the application's token from
# vault-init in CONTAINER (`vault-init app-token`), else the root token
# (`vault-init root-token`) unless vault-init says the app token is on but not
# issued yet (exit 4),
# and sets VAULT_TOKEN=<token> in ENV_FILE (.env):
#   - a VAULT_TOKEN= (or `export VAULT_TOKEN=`) line is replaced where it
#     stands; with none, one is added at the end; every other line is kept,
#     in order (a last line without a newline gets one);
#   - written atomically: a temp file in the same directory, its mode set
#     before the token is written (the file's own, or 0600 for a new file),
#     then renamed over ENV_FILE (a symlink's target is the file written);
#   - run twice, it gives the same file (and then leaves it alone).
# The token is never printed, never traced, and never in the argv of any
# process: it travels from `docker exec`'s stdout into a shell variable and
# out through builtins only. On any failure ENV_FILE is left as it was.
set -euo pipefail
set +x # a `bash -x env-token.sh` must not trace the token

container=${1:?usage: env-token.sh CONTAINER [ENV_FILE]}
env_file=${2:-.env}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/env-token.XXXXXX")
tmp=
trap 'rm -rf "$scratch"; [ -z "$tmp" ] || rm -f "$tmp"' EXIT

die() { echo "env-token: $*" >&2; exit 1; }

running=$(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null || true)
[ "$running" = true ] || die "container $container is not running: start the stack first (make prod-local). $env_file left as it was."

# read_token KIND: `vault-init KIND-token` in the container; sets token, or
# returns vault-init's exit code (1; 4 for an app token that is on but not
# issued yet) with its error (never a token) in $scratch/KIND.err.
read_token() {
    local code=0
    token=$(docker exec "$container" vault-init "$1-token" 2>"$scratch/$1.err") || code=$?
    [ "$code" -eq 0 ] || return "$code"
    # One line of token characters: nothing that could break a .env line.
    if [[ ! $token =~ ^[A-Za-z0-9._~+/=-]+$ ]]; then
        echo "vault-init $1-token printed no token (${#token} bytes of something else)" >"$scratch/$1.err"
        token=
        return 1
    fi
}
# why KIND: vault-init's error for KIND, on one line.
why() { tr '\n' ' ' <"$scratch/$1.err" | sed -e 's/^vault-init: //' -e 's/ *$//'; }

token=
app_code=0
read_token app || app_code=$?
if [ "$app_code" -eq 0 ]; then
    kind=app
    note="the app token"
elif [ "$app_code" -eq 4 ]; then
    # The app token is on (whether by env, flag or config file: vault-init
    # says so) but not issued yet: the root token is no stand-in for it
    # (VAULT_INIT_REVOKE_ROOT may revoke it soon).
    die "VAULT_INIT_APP_TOKEN is on, but there is no app token to read yet ($(why app)). vault-init issues it once Vault is set up (make logs): run make env-token again in a moment. $env_file left as it was."
elif read_token root; then
    kind=root
    note="the root token (the app token is off)"
else
    echo "env-token: no token to write; $env_file left as it was." >&2
    echo "  app token:  $(why app)" >&2
    echo "  root token: $(why root)" >&2
    exit 1
fi

# The file to write: a symlink's target, so that the link stays a link.
target=$env_file
if [ -L "$target" ]; then
    target=$(readlink -f -- "$target") || die "cannot resolve the symlink $env_file"
fi
dir=$(dirname -- "$target")
mode=600
group=
if [ -e "$target" ]; then
    [ -f "$target" ] || die "$env_file is not a regular file"
    mode=$(stat -c %a -- "$target" 2>/dev/null || stat -f %Lp -- "$target") || die "cannot read the mode of $env_file"
    group=$(stat -c %g -- "$target" 2>/dev/null || stat -f %g -- "$target") || group=
fi

tmp=$(mktemp "$dir/.env-token.XXXXXX") || die "cannot create a temp file in $dir"
chmod "$mode" "$tmp"
# The file's group too (best effort: only a group of the runner's), so that
# a group that could read .env still can.
[ -z "$group" ] || chgrp "$group" "$tmp" 2>/dev/null || true
replaced=0
{
    if [ -e "$target" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            if [[ $line =~ ^([[:space:]]*(export[[:space:]]+)?VAULT_TOKEN[[:space:]]*=) ]]; then
                cr=
                [[ $line != *$'\r' ]] || cr=$'\r' # a .env saved on Windows stays so
                printf '%s%s%s\n' "${BASH_REMATCH[1]}" "$token" "$cr"
                replaced=$((replaced + 1))
            else
                printf '%s\n' "$line"
            fi
        done <"$target"
    fi
    [ "$replaced" -gt 0 ] || printf 'VAULT_TOKEN=%s\n' "$token"
} >"$tmp"
token=

if [ -e "$target" ] && cmp -s -- "$tmp" "$target"; then
    echo "VAULT_TOKEN in $env_file is already $note from $container: unchanged."
    exit 0
fi
sync -- "$tmp" 2>/dev/null || true
mv -f -- "$tmp" "$target"
tmp=
echo "VAULT_TOKEN in $env_file: $note from $container (mode $mode)."
if [ $((8#$mode & 8#004)) -ne 0 ]; then
    echo "Warning: $env_file is readable by every user (mode $mode), and it now holds a Vault token: chmod 600 $env_file" >&2
fi
if [ "$kind" = root ]; then
    echo "For production, give the application a limited token instead: VAULT_INIT_APP_TOKEN=true (docs/operations.md)."
fi
echo "Restart the stack to use it: make down && make prod-local"
