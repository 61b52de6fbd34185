#!/bin/sh
# Stand-in for the official hashicorp/vault image's docker-entrypoint.sh, for
# machines that reach no image registry. It reproduces what the compose file
# relies on, written from the image's documented behaviour:
#   - `server ARGS` runs `vault server -config=/vault/config ARGS`;
#   - any other vault subcommand runs `vault SUBCOMMAND ...`;
#   - /vault/config, /vault/logs and /vault/file are chowned to the vault user
#     unless SKIP_CHOWN is set (nothing else: a volume elsewhere stays root's);
#   - started as root, Vault is run as the unprivileged user vault.
# The official image also sets cap_ipc_lock on the binary (SKIP_SETCAP skips
# it); the stand-in has no setcap, and the compose file disables mlock anyway.
set -e
ulimit -c 0

VAULT_CONFIG_DIR=/vault/config
if [ -n "$VAULT_LOCAL_CONFIG" ]; then
    echo "$VAULT_LOCAL_CONFIG" > "$VAULT_CONFIG_DIR/local.json"
fi

case "$1" in
    -*) set -- vault "$@" ;;
    server) shift; set -- vault server -config="$VAULT_CONFIG_DIR" "$@" ;;
    version|status|operator|kv|secrets|token|login|read|write|list|delete|auth|policy|audit|print|unwrap|path-help|debug|monitor|lease|plugin|namespace|pki|transit|patch|agent|proxy|events)
        set -- vault "$@" ;;
esac

if [ "$1" = vault ]; then
    if [ -z "$SKIP_CHOWN" ]; then
        for d in /vault/config /vault/logs /vault/file; do
            if [ "$(stat -c %u "$d")" != "$(id -u vault)" ]; then
                chown -R vault:vault "$d" || echo "Could not chown $d (may not have appropriate permissions)"
            fi
        done
    fi
    if [ "$(id -u)" = 0 ]; then
        set -- su-exec vault "$@"
    fi
fi
exec "$@"
