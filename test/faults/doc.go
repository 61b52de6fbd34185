// Package faults is vault-init's fault-injection suite. Its tests build
// vault-init with -tags faultinject and run it against real `vault server`
// processes while crashing it at every phase boundary, filling its disk,
// breaking its keystore, and putting a misbehaving proxy in front of Vault.
// Every fault must end either in "ready, keys saved" or in a clear error with
// Vault and the keystore left as they were.
//
// Run the short suite with `make test`, the whole one with `make test-faults`.
package faults
