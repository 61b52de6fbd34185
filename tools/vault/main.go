// Command vault is the HashiCorp Vault server, built from the Go module proxy
// for vault-init's integration tests. It lives in its own module so that the
// product's go.mod never depends on the (BUSL-licensed) Vault server.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
