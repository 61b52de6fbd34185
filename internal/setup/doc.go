// Package setup configures a Vault that is initialized and unsealed: it is
// an ordered list of steps, each of which ensures one thing through an
// admin token, and writes nothing when that thing is in place already.
//
// The steps, in order (steps in setup.go lists them):
//
//   - kv-mount: the application's KV version 2 mount (internal/kvmount);
//   - audit: a file audit device, when one is configured (internal/audit);
//   - app-token: the application's policy and its periodic token, kept in
//     the keystore beside the keys (internal/apptoken), when configured;
//   - revoke-root: with RevokeRoot, the admin token is revoked once the
//     steps are done (admin.go).
//
// The admin token (admin.go) is the keystore's root token; or, when that
// was revoked (or is to be), a short-lived root token generated from the
// stored keys (internal/roottoken); or else VAULT_TOKEN. Root tokens to
// revoke are journalled in the keystore before they are used, so that a
// token left by a killed vault-init is revoked on the next setup.
//
// To add a step: write its ensure function in a file of its own (it gets
// the node and a client carrying the admin token, and must be idempotent),
// and add it to steps() under the name its events carry. A step that
// succeeds is reported as an events.StepDone; one that fails ends Run with
// a *StepError, which the watch loop reports as an events.StepFailed.
//
// The watch loop (internal/watch) decides when to run setup: when a node
// becomes active. It keeps polling and coordination only; setup never
// looks at Vault's health.
package setup
