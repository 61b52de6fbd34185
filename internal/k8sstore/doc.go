// Package k8sstore is the "kubernetes" keystore backend: a keystore.Store
// kept in one Kubernetes Secret, shared by the vault-init sidecars of every
// pod of a Vault cluster.
//
// The Secret is of type Opaque and carries the labels
// app.kubernetes.io/managed-by=vault-init and app.kubernetes.io/name=
// vault-init. It never has an owner reference: a garbage-collected keys
// Secret bricks Vault. Each blob (init.json, init.json.age, app-token) is a
// data key of it. A Secret of the configured name without the managed-by
// label is foreign: every method refuses it (ErrForeign), and it is never
// read as "no keys" nor overwritten. Nothing here deletes the Secret.
//
// The keystore.Store contract, as this backend keeps it:
//
//   - Get returns keystore.ErrNotFound only on the API server's own 404
//     for the Secret, or when its data lacks the key. Forbidden (the
//     message names the verb and the resource), unreachable, timed out or
//     foreign are other errors.
//   - Put is a compare-and-swap on the blob: each handle remembers what it
//     last saw of each blob (absent, or a hash of its bytes), and a Put
//     whose blob changed since returns ErrConflict and writes nothing. It
//     updates the Secret with the resourceVersion it read (409: read and
//     check again, a few times), and returns nil only once a fresh read
//     shows the bytes. A blob the handle never saw is written blindly, and
//     writing the bytes that are already there succeeds without a write.
//     So keystore.Keys.Update is safe across pods without a lock (Lock
//     only excludes the goroutines of one handle).
//   - Delete removes a data key the same way; never the Secret.
//   - Probe proves create and update permission with a server-side dry
//     run, changing nothing.
//   - Every call is bounded by CallTimeout.
//
// A Secret deleted while a handle has seen a blob in it: Get returns
// ErrNotFound (and the handle now has seen it absent); a Put from a handle
// that has not read it since returns ErrConflict, so a stale handle never
// recreates keys by itself. Whether to write them again is the caller's
// choice, as for a vanished init.json in the data dir: the watcher raises
// an alarm and keeps the keys in memory.
//
// # The init claim
//
// The data dir serializes initializers with a flock that dies with its
// process; pods share no such lock. ClaimInit marks the Secret with the
// annotations vault-init.aurora.dev/claimed-by and .../claimed-at, created
// or added with a compare-and-swap, so exactly one vault-init of the
// cluster calls sys/init. Once a sys/init request was sent the claim stays,
// even when its holder is killed before saving the keys: the keys of that
// init are then lost, and a second init (of another node, or after a
// storage wipe) would make matters worse, so every other vault-init
// refuses with a keystore.ClaimError naming the holder and the time. The
// holder itself (same name, such as a StatefulSet's restarted pod) takes
// its claim back. An operator clears a claim once sure that no Vault of the
// cluster is initialized:
//
//	kubectl -n NAMESPACE annotate secret NAME vault-init.aurora.dev/claimed-by- vault-init.aurora.dev/claimed-at-
//
// # Encryption
//
// Secrets are base64, not encrypted: whoever can read Secrets in the
// namespace (a cluster admin, a backup of etcd unless encryption at rest
// is on) holds the unseal keys and the root token, unless
// VAULT_INIT_AGE_RECIPIENT is set, which makes the keystore init.json.age,
// readable only with the age identity mounted in the vault-init container.
//
// # Permissions
//
// The service account needs, in the Secret's namespace: get and update on
// secrets with resourceNames [the Secret], and create on secrets (create
// cannot be limited by name). Nothing else: no list, watch, patch or
// delete.
package k8sstore
