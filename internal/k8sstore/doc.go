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
// read as "no keys" nor overwritten. A Secret with immutable: true can
// never take keys: every write and Probe refuse it (ErrImmutable), while
// Get still reads the keys it holds. Nothing here deletes the Secret.
//
// What another tool may do to the Secret after vault-init made it, and
// what must not stop unsealing, is reported by Warnings rather than
// refused: an owner reference (adoption by Argo CD or Helm: garbage
// collection then deletes the Secret with its owner), a pending deletion
// held by a finalizer, immutable: true. Each method that reads the Secret
// updates them; the caller logs them.
//
// The keystore.Store contract, as this backend keeps it:
//
//   - Get returns keystore.ErrNotFound only on the API server's own 404
//     for the Secret, or when its data lacks the key. Forbidden (the
//     message names the verb and the resource), unreachable, timed out or
//     foreign are other errors. Gets of different blobs in quick
//     succession answer from one read (see Consistent reads).
//   - Put is a compare-and-swap on the blob: each handle remembers what it
//     last saw of each blob (absent, or a hash of its bytes), and a Put
//     whose blob changed since returns ErrConflict and writes nothing. It
//     updates the Secret with the resourceVersion it read (409: read and
//     check again, a few times), and returns nil only once a fresh read
//     shows the bytes. A blob the handle never saw is written blindly, and
//     writing the bytes that are already there succeeds without a write.
//     A Put of the keystore (init.json or init.json.age) also removes the
//     init claim, in the same update.
//   - Delete removes a data key the same way; never the Secret.
//   - Probe proves create and update permission with a server-side dry
//     run of a change of the data (it adds, or removes, the key .probe),
//     so that immutable data or an admission policy that forbids data
//     changes fails it as it would fail a Put. Nothing changes.
//   - Every call is bounded by CallTimeout.
//
// What the compare-and-swap protects, exactly: a write of this handle
// against the writes of other pods (other handles) between this handle's
// last read of the blob and its write. The observations belong to the
// handle, not to a goroutine: a Get from any goroutine of the handle
// refreshes them, so two goroutines of one handle are not kept apart by
// it; Lock excludes them from each other (vault-init's sidecar has one
// goroutine per node, and keystore.Keys.Update takes Lock). Across pods,
// Keys.Update needs no lock of its own: of two pods that loaded the same
// keystore and save different changes, the second gets ErrConflict and
// writes nothing.
//
// A Secret deleted while a handle has seen a blob in it: Get returns
// ErrNotFound, and the handle now has seen it absent. A Put from a handle
// that has not read it since returns ErrConflict; one that has read it
// (ErrNotFound) recreates the Secret. vault-init's watcher reads before
// every write, so it raises an alarm ("keystore has disappeared"), keeps
// unsealing from its copy in memory, and its next write of the keystore
// (a token revocation, say) recreates the Secret from that copy, as the
// file backend recreates a removed init.json.
//
// # Consistent reads
//
// keystore.Keys.Load reads init.json.age, then, when that is absent,
// init.json: two Gets. A peer's age migration (put init.json.age, then
// remove init.json) between them would make Load see neither and report
// "no keystore" although keys exist. So a Get reads the Secret, and the
// handle keeps that read for a moment: a Get of another blob, less than
// SnapshotWindow (1 s) later, with no write of the handle begun since,
// answers from it instead of reading again; each read answers each blob
// once. Load's two Gets (and Keys.Path's) thus see one state of the
// Secret. A second Get of a blob (a poll) always reads again, so a waiter
// sees news at once, and the first Get after a write shows it. The
// compare-and-swap is untouched: a Get answered from the kept read
// records what it answered, and a Put of a blob that changed since is
// refused (ErrConflict).
//
// The alternatives were worse. Reading twice and comparing would still
// race; a snapshot API (a Store method returning several blobs) would
// change the Store interface and every backend, and the file backend has
// the same race between its two reads, which only Keys.Load can close for
// all (read init.json.age again when init.json is absent). The window is
// the price of keeping Get(name): a Get of another blob may answer with
// what was true up to a second earlier, never staler.
//
// # The init claim
//
// The data dir serializes initializers with a flock that dies with its
// process; pods share no such lock. ClaimInit marks the Secret with the
// annotations vault-init.aurora.dev/claimed-by and .../claimed-at, created
// or added with a compare-and-swap, so exactly one vault-init of the
// cluster calls sys/init. Once a sys/init request was sent the claim stays
// until the keys are saved, even when its holder is killed before saving the keys: the keys of that
// init are then lost, and a second init (of another node, or after a
// storage wipe) would make matters worse, so every other vault-init
// refuses with a keystore.ClaimError naming the holder and the time. The
// holder itself (same name, such as a StatefulSet's restarted pod) takes
// its claim back. Saving the keys (a Put of init.json or init.json.age)
// removes the claim in the same update: it has done its work, and a claim
// left behind would block every vault-init once an operator removed the
// keys blob. An operator clears a claim once sure that no Vault of the
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
