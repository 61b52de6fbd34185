// Command vault-init initializes, unseals and configures a HashiCorp Vault
// that runs next to it. See the README and docs/ for how to use it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/aurora/vault-init/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
