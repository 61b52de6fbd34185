#!/bin/sh
# Stand-in for the official hashicorp/vault image's docker-entrypoint.sh, for
# machines that reach no image registry. It is a re-creation, written from the
# image's documented behaviour, of what the compose files rely on:
#   - `server ARGS` runs `vault server -config=/vault/config ARGS`;
#   - an argument starting with `-` runs `vault ARGS`;
#   - a vault subcommand runs `vault SUBCOMMAND ...`;
#   - started as root, /vault/config, /vault/logs and /vault/file are chowned
#     to the vault user unless SKIP_CHOWN is set (a volume elsewhere, such as
#     /vault/data, stays root's: the compose files chown it themselves), and
#     Vault runs as the unprivileged user vault (uid 100, gid 1000);
#   - VAULT_LOCAL_CONFIG is written to /vault/config/local.json;
#   - no core dumps (ulimit -c 0).
#
# Where it differs from the official entrypoint, and why that does not
# matter to the e2e:
#   - PID 1: the official script runs under dumb-init (its shebang), which
#     reaps zombies and forwards signals to the whole session. Here `exec`
#     makes Vault itself PID 1: `docker stop` still reaches Vault as SIGTERM,
#     and the e2e starts no plugins that would leave zombies.
#   - IPC_LOCK: the official script gives the vault binary cap_ipc_lock with
#     setcap (unless SKIP_SETCAP), and takes it back when the container lacks
#     the capability. The stand-in has no setcap: deploy/vault/vault.hcl sets
#     disable_mlock = true, so Vault never asks for mlock.
#   - Subcommands: the official script asks `vault --help SUBCOMMAND` whether
#     an argument is a vault subcommand. Here a fixed list names them (below):
#     a subcommand missing from it runs as a program of that name. The e2e
#     uses `server` and runs the CLI as `docker exec ... vault ...`, which
#     does not go through the entrypoint.
#   - Non-root start: the official script skips chown and setcap and warns if
#     SKIP_CHOWN or SKIP_SETCAP is set; the stand-in tries the chown, and
#     says so when it cannot. Both leave a failed chown of /vault/config
#     non-fatal; the official one stops on a failed chown of /vault/logs or
#     /vault/file, the stand-in goes on.
#   - -dev: for `server`, the official script also passes
#     -dev-root-token-id=$VAULT_DEV_ROOT_TOKEN_ID and -dev-listen-address
#     (default 0.0.0.0:8200), which act only with -dev. The stand-in passes
#     neither: the compose files never run -dev (it starts initialized).
#   - VAULT_REDIRECT_INTERFACE and VAULT_CLUSTER_INTERFACE (addresses taken
#     from a network interface) are not re-created; the compose files use
#     neither.
#   - su-exec is a small Go program (su-exec/main.go), not Alpine's: it sets
#     the user's uid and gid and only that gid as its groups.
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
